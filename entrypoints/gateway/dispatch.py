"""Client frames to handlers: admitted or refused at once, then run one at a time, in order."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from roomcast.entrypoints.gateway import access_log
from roomcast.entrypoints.gateway.connections import LiveConnection
from roomcast.entrypoints.gateway.proxy_events import Api, message_event, new_id
from roomcast.entrypoints.gateway.state import Gateway

log = logging.getLogger("roomcast.gateway")
# API Gateway's answer when it throttles a route: the frame is not handled.
TOO_MANY_REQUESTS = "Too Many Requests"


def accept(gateway: Gateway, api: Api, connection: LiveConnection, body: str) -> None:
    """Queue a client's text frame for its handler, or refuse it at once when the queue is full."""
    connection.touch()
    if not gateway.invoker.admit():
        access_log.invoked(connection.id, "-", 429, time.monotonic())
        _send_gateway_error(connection, TOO_MANY_REQUESTS, new_id())
        return
    connection.inbound.append(body)
    if connection.dispatcher is None:
        work = _dispatch_in_order(gateway, api, connection)
        connection.dispatcher = asyncio.get_running_loop().create_task(work)


async def _dispatch_in_order(gateway: Gateway, api: Api, connection: LiveConnection) -> None:
    """The connection's dispatcher task: started when a frame arrives and none is running,
    ended when its inbound queue is empty, so an idle connection costs no task."""
    try:
        while connection.inbound:
            body = connection.inbound.popleft()
            try:
                await _dispatch(gateway, api, connection, body)
            except Exception:
                log.exception("could not dispatch a frame from %s", connection.id)
    finally:
        connection.dispatcher = None


async def _dispatch(
    gateway: Gateway, api: Api, connection: LiveConnection, body: str
) -> None:
    """Route one message as API Gateway does and run its integration to its end."""
    started = time.monotonic()
    route = gateway.routes.select(body)
    if route is None:
        gateway.invoker.release()
        access_log.invoked(connection.id, "-", 403, started)
        _send_gateway_error(connection, "Forbidden", new_id())
        return
    event = message_event(api, connection.caller, route.key, body)
    invocation = gateway.invoker.start(route, event, admitted=True)
    outcome = await invocation.answer(route)
    access_log.invoked(connection.id, route.key, outcome.status_code, started)
    if outcome.error is not None:
        _send_gateway_error(connection, outcome.error, event["requestContext"]["requestId"])
    elif route.two_way and outcome.body:
        connection.deliver(outcome.body.encode())
    await invocation.finished()  # the next frame waits for this one's handler, timed out or not


def _send_gateway_error(connection: LiveConnection, message: str, request_id: str) -> None:
    """API Gateway's own error frame, e.g. {"message": "Internal server error", ...}."""
    frame = {"message": message, "connectionId": connection.id, "requestId": request_id}
    connection.deliver(json.dumps(frame).encode())
