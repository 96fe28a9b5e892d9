"""What the chat page asks the gateway: where to connect and how large a message may be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomcast.domain.commands import DEFAULT_MAX_MESSAGE_BYTES
from roomcast.entrypoints.gateway.state import Gateway
from roomcast.entrypoints.settings import ConfigurationError, from_environ


def chat_page_config(gateway: Gateway, environ: Mapping[str, str]) -> dict[str, Any]:
    """The page checks both limits before sending: over either, the message would be lost."""
    return {
        "stage": gateway.stage,
        "maxFrameBytes": gateway.limits.max_frame_bytes,
        "maxMessageBytes": _max_message_bytes(environ),
        "tokenIn": _token_location(gateway),
    }


def _token_location(gateway: Gateway) -> str:
    """Where the page puts a token: where the $connect authorizer looks, else the query."""
    sources = gateway.authorizer.identity_sources if gateway.authorizer else ()
    header = "route.request.header.sec-websocket-protocol"
    return "protocol" if any(s.lower() == header for s in sources) else "query"


def _max_message_bytes(environ: Mapping[str, str]) -> int:
    try:
        return int(from_environ(environ)["max_message_bytes"])
    except ConfigurationError:
        # The handlers refuse to start on a bad setting anyway; the page can still load.
        return DEFAULT_MAX_MESSAGE_BYTES
