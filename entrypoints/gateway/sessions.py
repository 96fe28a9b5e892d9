"""One WebSocket connection's life: $connect before the upgrade, messages in order, $disconnect.

The session's own task only reads: aiohttp answers a ping inside `receive()`, so a read
loop that never waits for a handler answers control frames at once, as API Gateway's edge
does. Client frames go to the connection's inbound queue, and a dispatcher task (started
when there is work, gone when there is none) hands them to the handlers one at a time,
in order.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from entrypoints.gateway import events
from entrypoints.gateway.connections import ABNORMAL, GOING_AWAY, NO_STATUS, LiveConnection
from entrypoints.gateway.frame_guard import LimitedWebSocketResponse
from entrypoints.gateway.state import GATEWAY, Gateway, forbidden

log = logging.getLogger("roomcast.gateway")
# API Gateway's answer when it throttles a route: the frame is not handled.
TOO_MANY_REQUESTS = "Too Many Requests"


async def websocket_endpoint(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    if request.match_info["stage"] != gateway.stage:
        return forbidden()
    socket = LimitedWebSocketResponse(gateway.limits)
    if not socket.can_prepare(request).ok:
        return web.Response(status=426, text="Upgrade Required")
    if not gateway.accepting:
        return web.Response(status=503, text="Gateway is shutting down")
    caller = _caller(request)
    api = gateway.api(request.host)
    rejection = await _run_connect(gateway, api, caller, request)
    if rejection is not None:
        return rejection
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
) -> web.Response | None:
    """The handshake waits for $connect; a non-2xx answer (or a failure) rejects it."""
    route = gateway.routes.get("$connect")
    if route is None:
        return None
    if not gateway.invoker.admit():
        return web.Response(status=429, text=TOO_MANY_REQUESTS)
    event = events.connect_event(api, caller, request.headers.items(), request.query.items())
    outcome = await gateway.invoker.start(route, event, admitted=True).answer(route)
    if outcome.accepted:
        return None
    return web.Response(status=outcome.status_code, text=outcome.body)


async def _serve(gateway: Gateway, api: events.Api, connection: LiveConnection) -> None:
    watchdog = asyncio.create_task(_enforce_deadlines(gateway, connection))
    try:
        while True:
            message = await connection.socket.receive()
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                _accept(gateway, api, connection, message.type, message.data)
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


def _accept(
    gateway: Gateway, api: events.Api, connection: LiveConnection, kind: WSMsgType, data: object
) -> None:
    """Queue a client frame for its handler, or refuse it at once when the queue is full."""
    connection.touch()
    if not gateway.invoker.admit():
        _send_gateway_error(connection, TOO_MANY_REQUESTS, events.new_id())
        return
    connection.inbound.append((kind, data))
    if connection.dispatcher is None:
        work = _dispatch_in_order(gateway, api, connection)
        connection.dispatcher = asyncio.get_running_loop().create_task(work)


async def _dispatch_in_order(gateway: Gateway, api: events.Api, connection: LiveConnection) -> None:
    try:
        while connection.inbound:
            kind, data = connection.inbound.popleft()
            try:
                await _dispatch(gateway, api, connection, kind, data)
            except Exception:
                log.exception("could not dispatch a frame from %s", connection.id)
    finally:
        connection.dispatcher = None


async def _dispatch(
    gateway: Gateway, api: events.Api, connection: LiveConnection, kind: WSMsgType, data: object
) -> None:
    """Route one message as API Gateway does and run its integration to its end."""
    if kind is WSMsgType.TEXT:
        body, encoded = str(data), False
    else:
        body, encoded = base64.b64encode(bytes(data)).decode(), True  # type: ignore[call-overload]
    route = gateway.routes.select(None if encoded else body)
    if route is None:
        gateway.invoker.release()
        _send_gateway_error(connection, "Forbidden", events.new_id())
        return
    event = events.message_event(api, connection.caller, route.key, body, is_base64_encoded=encoded)
    invocation = gateway.invoker.start(route, event, admitted=True)
    outcome = await invocation.answer(route)
    if outcome.error is not None:
        _send_gateway_error(connection, outcome.error, event["requestContext"]["requestId"])
    await invocation.finished()  # the next frame waits for this one's handler, timed out or not


def _send_gateway_error(connection: LiveConnection, message: str, request_id: str) -> None:
    """API Gateway's own error frame, e.g. {"message": "Internal server error", ...}."""
    frame = {"message": message, "connectionId": connection.id, "requestId": request_id}
    connection.deliver(json.dumps(frame).encode())


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

