"""The aiohttp application: chat page, WebSocket endpoint and management API on one port."""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web

from entrypoints.gateway import listing, management
from entrypoints.gateway.page_config import chat_page_config
from entrypoints.gateway.sessions import websocket_endpoint
from entrypoints.gateway.state import GATEWAY, Gateway

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def make_app(gateway: Gateway) -> web.Application:
    app = web.Application()
    app[GATEWAY] = gateway
    app.router.add_get("/", chat_page)
    app.router.add_get("/config.json", page_config)
    app.router.add_static("/static/", STATIC_DIR)
    management.add_routes(app)
    listing.add_routes(app)
    app.router.add_get("/{stage}", websocket_endpoint)
    return app


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def page_config(request: web.Request) -> web.Response:
    """Where the page should connect: the stage's path on the host that served it."""
    return web.json_response(chat_page_config(request.app[GATEWAY], os.environ))
