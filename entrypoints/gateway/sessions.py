"""One WebSocket connection's life: $connect before the upgrade, messages in order, $disconnect.

The session's own task only reads: aiohttp answers a ping inside `receive()`, so a read
loop that never waits for a handler answers control frames at once, as API Gateway's edge
does. Client frames go on to `dispatch`, which runs them in order in a task of its own.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from entrypoints.gateway import dispatch, events
from entrypoints.gateway.authorization import authorize
from entrypoints.gateway.connections import ABNORMAL, GOING_AWAY, NO_STATUS, LiveConnection
from entrypoints.gateway.frame_guard import LimitedWebSocketResponse
from entrypoints.gateway.state import GATEWAY, Gateway, forbidden


async def websocket_endpoint(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    if request.match_info["stage"] != gateway.stage:
        return forbidden()
    socket = LimitedWebSocketResponse(gateway.limits)
    if not socket.can_prepare(request).ok:
        return web.Response(status=426, text="Upgrade Required")
    if not gateway.accepting:
        return web.Response(status=503, text="Gateway is shutting down")
    api = gateway.api(request.host)
    caller = await authorize(gateway, api, _caller(request), request)
    if isinstance(caller, web.Response):
        return caller
    chosen = await _run_connect(gateway, api, caller, request)
    if isinstance(chosen, web.Response):
        return chosen
    socket = LimitedWebSocketResponse(gateway.limits, protocols=chosen)
    outbound_limit = gateway.limits.max_outbound_bytes
    connection = LiveConnection(caller, socket, request.transport, outbound_limit)
    try:
        await socket.prepare(request)
        gateway.connections.add(connection)
        await _serve(gateway, api, connection)
    finally:
        if connection.dispatcher is not None:  # every accepted frame is handled, then $disconnect
            await asyncio.wait({connection.dispatcher})
        gateway.connections.discard(connection)
        await _run_disconnect(gateway, api, connection)
        connection.finished.set()
    return socket


def _caller(request: web.Request) -> events.Caller:
    return events.Caller(
        connection_id=events.new_id(),
        connected_at=events.now_ms(),
        source_ip=request.remote or "127.0.0.1",
        user_agent=request.headers.get("User-Agent", ""),
    )


async def _run_connect(
    gateway: Gateway, api: events.Api, caller: events.Caller, request: web.Request
) -> web.Response | tuple[str, ...]:
    """The handshake waits for $connect; a non-2xx answer (or a failure) rejects it, and a
    `Sec-WebSocket-Protocol` header in its answer is the subprotocol the handshake selects."""
    route = gateway.routes.get("$connect")
    if route is None:
        return ()
    if not gateway.invoker.admit():
        return web.Response(status=429, text=dispatch.TOO_MANY_REQUESTS)
    event = events.connect_event(api, caller, request.headers.items(), request.query.items())
    outcome = await gateway.invoker.start(route, event, admitted=True).answer(route)
    if outcome.accepted:
        return tuple(v for k, v in outcome.headers if k.lower() == "sec-websocket-protocol")
    return web.Response(status=outcome.status_code, text=outcome.body)


async def _serve(gateway: Gateway, api: events.Api, connection: LiveConnection) -> None:
    watchdog = asyncio.create_task(_enforce_deadlines(gateway, connection))
    try:
        while True:
            message = await connection.socket.receive()
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                dispatch.accept(gateway, api, connection, message.type, message.data)
            else:
                _record_end(connection, message.type, message.data, message.extra)
                return
    finally:
        watchdog.cancel()


def _record_end(connection: LiveConnection, kind: WSMsgType, data: object, extra: object) -> None:
    if kind is WSMsgType.CLOSE:
        code = data if isinstance(data, int) and data else NO_STATUS
        connection.ended(code, extra if isinstance(extra, str) else "")
    elif kind is WSMsgType.ERROR and isinstance(data, WebSocketError):
        connection.ended(data.code, str(data))
    else:
        connection.ended(ABNORMAL)


async def _run_disconnect(gateway: Gateway, api: events.Api, connection: LiveConnection) -> None:
    route = gateway.routes.get("$disconnect")
    if route is None:
        return
    connection.ended(ABNORMAL)  # unless an earlier cause was recorded
    assert connection.close_code is not None
    event = events.disconnect_event(
        api, connection.caller, connection.close_code, connection.close_reason
    )
    await gateway.invoker.invoke(route, event)


async def _enforce_deadlines(gateway: Gateway, connection: LiveConnection) -> None:
    """Close with 1001 after the idle timeout or at the maximum connection duration."""
    limits = gateway.limits
    hard_deadline = time.monotonic() + limits.max_connection_seconds
    while True:
        idle_deadline = connection.last_active_monotonic + limits.idle_timeout_seconds
        delay = min(idle_deadline, hard_deadline) - time.monotonic()
        if delay <= 0:
            # Shielded: the session cancels this task once the socket reports closing,
            # which must not cut short the close handshake.
            await asyncio.shield(connection.close(GOING_AWAY))
            return
        await asyncio.sleep(delay)

