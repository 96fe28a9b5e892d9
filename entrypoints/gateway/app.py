"""The aiohttp application: chat page, WebSocket endpoint and management API on one port."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from roomcast.domain.commands import DEFAULT_MAX_MESSAGE_BYTES
from roomcast.entrypoints.gateway import access_log, management
from roomcast.entrypoints.gateway.sessions import websocket_endpoint
from roomcast.entrypoints.gateway.state import GATEWAY, Gateway, aws_error
from roomcast.entrypoints.settings import ConfigurationError, from_environ

STATIC_DIR = Path(__file__).resolve().parent / "static"


def make_app(gateway: Gateway) -> web.Application:
    app = web.Application(middlewares=[only_local_callers])
    app[GATEWAY] = gateway
    app.router.add_get("/", chat_page)
    app.router.add_get("/config.json", page_config)
    app.router.add_static("/static/", STATIC_DIR)
    management.add_routes(app)
    app.router.add_get("/{stage}", websocket_endpoint)
    return app


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def page_config(request: web.Request) -> web.Response:
    """What the chat page asks: where to connect (the stage's path on the host that served
    it), how large a message may be, and where a token goes."""
    return web.json_response(chat_page_config(request.app[GATEWAY], os.environ))


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


def _is_management(path: str) -> bool:
    return "/@connections/" in path or path.startswith("/@roomcast/")


@web.middleware
async def only_local_callers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a rebound DNS name, and browsers of other sites on the management API."""
    origins = request.app[GATEWAY].origins
    host = request.headers.get("Host")
    problem = origins.host_problem(host)
    if problem is None and _is_management(request.path):
        problem = origins.management_problem(request.method, request.headers, host)
    if problem is None:
        return await handler(request)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        access_log.refused(403, problem, request.headers.get("User-Agent", ""))
        return web.Response(status=403, text="Forbidden")
    access_log.log.info("%s %s refused: %s", request.method, request.path, problem)
    return aws_error(403, "ForbiddenException", "Forbidden")
