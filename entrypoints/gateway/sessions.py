"""One WebSocket connection's life: $connect before the upgrade, messages in order, $disconnect."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from roomcast.entrypoints.gateway import access_log, dispatch
from roomcast.entrypoints.gateway.authorizer import authorize
from roomcast.entrypoints.gateway.connections import (
    ABNORMAL,
    GOING_AWAY,
    MESSAGE_TOO_BIG,
    NO_STATUS,
    UNSUPPORTED_DATA,
    LiveConnection,
)
from roomcast.entrypoints.gateway.frame_guard import LimitedWebSocketResponse
from roomcast.entrypoints.gateway.invoker import Outcome
from roomcast.entrypoints.gateway.proxy_events import (
    Api,
    Caller,
    connect_event,
    disconnect_event,
    local_port,
    new_id,
    now_ms,
)
from roomcast.entrypoints.gateway.state import GATEWAY, Gateway, forbidden

log = logging.getLogger("roomcast.gateway")
SUBPROTOCOL_HEADER = "Sec-WebSocket-Protocol"


async def websocket_endpoint(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    user_agent = request.headers.get("User-Agent", "")
    if request.match_info["stage"] != gateway.stage:
        access_log.refused(403, f"no stage {request.match_info['stage']!r}", user_agent)
        return forbidden()
    if not LimitedWebSocketResponse(gateway.limits).can_prepare(request).ok:
        return _refused(426, "Upgrade Required", "not a WebSocket upgrade", user_agent)
    problem = gateway.origins.websocket_origin_problem(
        request.headers.get("Origin"), request.headers.get("Host")
    )
    if problem is not None:
        return _refused(403, "Forbidden", problem, user_agent)
    if not gateway.accepting:
        return _refused(503, "Gateway is shutting down", "shutting down", user_agent)
    api = gateway.api(request.host)
    caller = await authorize(gateway.authorizer, api, _caller(request), request)
    if isinstance(caller, web.Response):
        access_log.refused(caller.status, f"refused by the authorizer: {caller.text}", user_agent)
        return caller
    outcome = await _run_connect(gateway, api, caller, request)
    if not outcome.accepted:
        reason = outcome.error or outcome.body or "refused by $connect"
        access_log.refused(outcome.status_code, reason, user_agent, caller.connection_id)
        return web.Response(status=outcome.status_code, text=outcome.body)
    socket = LimitedWebSocketResponse(gateway.limits, _subprotocols(request, outcome))
    outbound_limit = gateway.limits.max_outbound_bytes
    connection = LiveConnection(caller, socket, request.transport, outbound_limit)
    try:
        await socket.prepare(request)
        gateway.connections.add(connection)
        await _serve(gateway, api, connection)
    except ConnectionError:  # the client left during the handshake: nothing to report
        connection.ended(ABNORMAL)
    finally:
        if connection.dispatcher is not None:  # every accepted frame is handled, then $disconnect
            await asyncio.wait({connection.dispatcher})
        gateway.connections.discard(connection)
        await _run_disconnect(gateway, api, connection)
        connection.finished.set()
    return socket


def _refused(status: int, text: str, reason: str, user_agent: str) -> web.Response:
    access_log.refused(status, reason, user_agent)
    return web.Response(status=status, text=text)


def _caller(request: web.Request) -> Caller:
    return Caller(
        connection_id=new_id(),
        connected_at=now_ms(),
        source_ip=request.remote or "127.0.0.1",
        user_agent=request.headers.get("User-Agent", ""),
    )


def _subprotocols(request: web.Request, outcome: Outcome) -> tuple[str, ...]:
    """The one `$connect` selected, if any; aiohttp answers with it when the client offered it.

    API Gateway answers the handshake with the Sec-WebSocket-Protocol header that `$connect`
    returns, and with none when it returns none (a browser that offered some then fails the
    handshake)."""
    chosen = selected_subprotocol(outcome.headers)
    if chosen is None:
        return ()
    if chosen not in offered_subprotocols(request.headers):
        # Not the value: browsers can send no other header, so tokens often travel in it.
        log.warning("$connect selected a subprotocol the client did not offer")
    return (chosen,)


def offered_subprotocols(request_headers: Mapping[str, str]) -> tuple[str, ...]:
    """The client's subprotocols, in its order (the header is a comma-separated list)."""
    raw = request_headers.get(SUBPROTOCOL_HEADER, "")
    return tuple(name for part in raw.split(",") if (name := part.strip()))


def selected_subprotocol(connect_response_headers: Mapping[str, str]) -> str | None:
    """The subprotocol `$connect` chose: its response's header, whatever the name's case."""
    for name, value in connect_response_headers.items():
        if name.lower() == SUBPROTOCOL_HEADER.lower() and value.strip():
            return value.strip()
    return None


async def _run_connect(
    gateway: Gateway, api: Api, caller: Caller, request: web.Request
) -> Outcome:
    """The handshake waits for $connect; a non-2xx answer (or a failure) rejects it."""
    route = gateway.routes.get("$connect")
    if route is None:
        return Outcome(200)
    if not gateway.invoker.admit():
        return Outcome(429, dispatch.TOO_MANY_REQUESTS, error=dispatch.TOO_MANY_REQUESTS)
    started = time.monotonic()
    headers, query = request.headers.items(), request.query.items()
    event = connect_event(api, caller, headers, query, port=local_port(request))
    outcome = await gateway.invoker.start(route, event, admitted=True).answer(route)
    if outcome.accepted:
        access_log.connected(caller, outcome.status_code, started)
    return outcome


async def _serve(gateway: Gateway, api: Api, connection: LiveConnection) -> None:
    """The session's own task only reads: aiohttp answers a ping inside `receive()`, so a
    read loop that never waits for a handler answers control frames at once, as API
    Gateway's edge does. Client frames go on to `dispatch`, which runs them in order."""
    watchdog = asyncio.create_task(_enforce_deadlines(gateway, connection))
    try:
        while True:
            message = await connection.socket.receive()
            if message.type is WSMsgType.TEXT:
                dispatch.accept(gateway, api, connection, message.data)
            elif message.type is WSMsgType.BINARY:
                # API Gateway takes no binary frames from a client: it closes with 1003.
                await connection.close(UNSUPPORTED_DATA)
            else:
                _record_end(connection, message.type, message.data, message.extra)
                return
    finally:
        watchdog.cancel()


def _record_end(connection: LiveConnection, kind: WSMsgType, data: object, extra: object) -> None:
    if kind is WSMsgType.CLOSE:
        if isinstance(data, int) and data:
            connection.closed_by_client(data, extra if isinstance(extra, str) else "")
        else:
            connection.ended(NO_STATUS)
    elif kind is WSMsgType.ERROR and isinstance(data, WebSocketError):
        if data.code == MESSAGE_TOO_BIG:  # reported as the close frame said it
            connection.ended(MESSAGE_TOO_BIG)
            connection.close_detail = connection.close_detail or str(data)
        else:
            connection.ended(data.code, str(data))
    else:
        connection.ended(ABNORMAL)


async def _run_disconnect(gateway: Gateway, api: Api, connection: LiveConnection) -> None:
    connection.ended(ABNORMAL)  # unless an earlier cause was recorded
    assert connection.close_code is not None
    code, reason, started = connection.close_code, connection.close_reason, time.monotonic()
    route = gateway.routes.get("$disconnect")
    status: int | str = "-"
    if route is not None:
        event = disconnect_event(api, connection.caller, code, reason)
        status = (await gateway.invoker.invoke(route, event)).status_code
    access_log.disconnected(
        connection.caller, code, reason, status, started, connection.close_detail
    )


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
