"""API Gateway's management API on /{stage}/@connections/{id}, and roomcast's connection list."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from roomcast.entrypoints.gateway import access_log
from roomcast.entrypoints.gateway.connections import NORMAL, LiveConnection, opcode_for
from roomcast.entrypoints.gateway.state import GATEWAY, Gateway, aws_error, forbidden

PATH = "/{stage}/@connections/{connection_id}"
LISTING_PATH = "/@roomcast/connections"
QUEUES_PATH = "/@roomcast/queues"


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, _logged(post_to_connection))
    app.router.add_get(PATH, _logged(get_connection))
    app.router.add_delete(PATH, _logged(delete_connection))
    app.router.add_get(LISTING_PATH, list_connections)
    app.router.add_get(QUEUES_PATH, list_queues)


def _logged(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The call's access line once it is answered, as a route invocation gets one."""

    async def logged(request: web.Request) -> web.Response:
        started = time.monotonic()
        response = await handler(request)
        size = request.content_length if request.method == "POST" else None
        access_log.managed(
            request.method, request.match_info["connection_id"], response.status, started, size
        )
        return response

    return logged


def _target(request: web.Request) -> tuple[Gateway, LiveConnection | None]:
    gateway = request.app[GATEWAY]
    connection = gateway.connections.open_connection(request.match_info["connection_id"])
    return gateway, connection


def _live_target(request: web.Request) -> LiveConnection | web.Response:
    """The open connection a GET or DELETE names, or the answer API Gateway gives instead."""
    gateway, connection = _target(request)
    if request.match_info["stage"] != gateway.stage:
        return forbidden()
    return _gone() if connection is None else connection


def _gone() -> web.Response:
    return aws_error(410, "GoneException", "Connection is gone")


async def post_to_connection(request: web.Request) -> web.Response:
    gateway, connection = _target(request)
    if request.match_info["stage"] != gateway.stage:
        return forbidden()
    data = await _body_within(request, gateway.limits.max_post_bytes)
    if data is None:
        return aws_error(413, "PayloadTooLargeException", "Request entity too large")
    if connection is None or not connection.deliver(data, opcode_for(data)):
        return _gone()
    return web.Response(status=200)


async def _body_within(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is over `limit`: read at most one byte past it, whatever
    its size, so any oversize POST gets API Gateway's 413 and not aiohttp's own."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = await request.content.read(limit + 1)
    return None if len(data) > limit else data


async def get_connection(request: web.Request) -> web.Response:
    connection = _live_target(request)
    if isinstance(connection, web.Response):
        return connection
    caller = connection.caller
    body = {
        "connectedAt": _iso(caller.connected_at),
        "identity": {"sourceIp": caller.source_ip, "userAgent": caller.user_agent},
        "lastActiveAt": _iso(connection.last_active_at),
    }
    return web.json_response(body)


async def delete_connection(request: web.Request) -> web.Response:
    """204 at once; the socket closes and $disconnect runs in the background, as in AWS."""
    connection = _live_target(request)
    if isinstance(connection, web.Response):
        return connection
    connection.ended(NORMAL)
    request.app[GATEWAY].in_background(connection.close(NORMAL))
    return web.Response(status=204)


def _iso(epoch_ms: int) -> str:
    """ISO 8601 with milliseconds, as API Gateway writes connectedAt: 2024-05-01T12:00:00.000Z."""
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def list_connections(request: web.Request) -> web.Response:
    """The gateway's open connections, with user and rooms from the handlers' store, for
    `roomcast connections --gateway`. Read-only; API Gateway has no such call."""
    gateway = request.app[GATEWAY]
    live = [c for c in gateway.connections.all() if c.is_open]
    stored: dict[str, Any] = {}
    problem: str | None = None
    if gateway.roomcast_store:
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


async def list_queues(request: web.Request) -> web.Response:
    """The template's queues (messages visible, in flight, delayed; sent, received, deleted,
    dead-lettered) and each event source mapping's invocations and failed records.
    Read-only; roomcast's own, as the connection list is."""
    sources = request.app[GATEWAY].event_sources
    if sources is None:
        return web.json_response({"queues": [], "mappings": []})
    body = await asyncio.get_running_loop().run_in_executor(None, sources.describe)
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
