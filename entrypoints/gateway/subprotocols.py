"""WebSocket subprotocols: what a client offers, and the one `$connect` selects.

API Gateway answers the handshake with the `Sec-WebSocket-Protocol` header that the
`$connect` integration returns, and with none when it returns none (a browser that offered
some then fails the handshake). Browsers can send nothing but this header, so tokens often
travel in it: `offered` reads it for whoever needs to look.
"""

from __future__ import annotations

from collections.abc import Mapping

HEADER = "Sec-WebSocket-Protocol"


def offered(request_headers: Mapping[str, str]) -> tuple[str, ...]:
    """The client's subprotocols, in its order (the header is a comma-separated list)."""
    raw = request_headers.get(HEADER, "")
    return tuple(name for part in raw.split(",") if (name := part.strip()))


def selected(connect_response_headers: Mapping[str, str]) -> str | None:
    """The subprotocol `$connect` chose: its response's header, whatever the name's case."""
    for name, value in connect_response_headers.items():
        if name.lower() == HEADER.lower() and value.strip():
            return value.strip()
    return None
