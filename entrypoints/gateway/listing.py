"""GET /@roomcast/connections: the gateway's open connections, with user and rooms from the
handlers' store, for `roomcast connections --gateway`. Read-only; API Gateway has no such call."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from roomcast.entrypoints.gateway.connections import LiveConnection
from roomcast.entrypoints.gateway.management import _iso
from roomcast.entrypoints.gateway.state import GATEWAY

PATH = "/@roomcast/connections"


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, list_connections)


async def list_connections(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    live = [c for c in gateway.connections.all() if c.is_open]
    stored, problem = await asyncio.get_running_loop().run_in_executor(
        None, _stored, [c.id for c in live]
    )
    body: dict[str, Any] = {
        "stage": gateway.stage,
        "connections": [_describe(c, stored.get(c.id)) for c in live],
    }
    if problem:
        body["storeError"] = problem
    return web.json_response(body)


def _stored(connection_ids: list[str]) -> tuple[dict[str, Any], str | None]:
    """Each connection as the handlers' store has it (the same process, so the same store)."""
    from roomcast.domain.model import ConnectionId
    from roomcast.entrypoints.containers import get_container

    try:
        store = get_container().store()
        return {c: store.get(ConnectionId(c)) for c in connection_ids}, None
    except Exception as error:  # the live list is still worth having without the store
        return {}, f"{type(error).__name__}: {error}"


def _describe(connection: LiveConnection, stored: Any) -> dict[str, Any]:
    caller = connection.caller
    return {
        "connectionId": connection.id,
        "userId": stored.user_id.value if stored else None,
        "rooms": [room.value for room in stored.rooms_oldest_first()] if stored else [],
        "connectedAt": caller.connected_at,
        "connectedAtIso": _iso(caller.connected_at),
        "lastActiveAt": _iso(connection.last_active_at),
        "sourceIp": caller.source_ip,
    }
