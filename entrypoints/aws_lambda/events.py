"""Reads API Gateway WebSocket proxy events defensively into the few values handlers need."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from roomcast.domain.model import ANONYMOUS, NO_CLAIM, ConnectionId, UserId

Event = Mapping[str, Any]
SUBPROTOCOL = "roomcast"
ROOMS_CONTEXT_KEY = "rooms"  # where the authorizer puts the grant in its context


class MalformedEvent(ValueError):
    """The event is not one API Gateway sends; the handler answers 400 with this message."""


@frozen
class ConnectRequest:
    connection_id: ConnectionId
    user_id: UserId
    source_ip: str | None
    user_agent: str | None
    token: str | None = field(default=None, repr=False)  # never in a log line
    authorized_user_id: UserId | None = None
    # The authorizer's context `rooms`, a JSON string (context values are scalars).
    authorized_rooms: object = field(default=NO_CLAIM, repr=False)
    subprotocol: str | None = None


def request_context(event: object) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise MalformedEvent("Malformed event: not a JSON object")
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        raise MalformedEvent("Malformed event: requestContext missing")
    return context


def connection_id(event: object) -> ConnectionId:
    value = request_context(event).get("connectionId")
    if not isinstance(value, str) or not value:
        raise MalformedEvent("Malformed event: requestContext.connectionId missing")
    return ConnectionId(value)


def connect_request(event: Event) -> ConnectRequest:
    context = request_context(event)
    identity = _mapping(context.get("identity"))
    query = query_parameters(event)
    authorizer = _mapping(context.get("authorizer"))
    principal = _optional_str(authorizer.get("principalId"))
    return ConnectRequest(
        connection_id=connection_id(event),
        user_id=_user_id(query.get("userId")),
        source_ip=_optional_str(identity.get("sourceIp")),
        user_agent=_optional_str(identity.get("userAgent")),
        token=token(event),
        # Only API Gateway writes requestContext, after a Lambda authorizer allowed the call.
        authorized_user_id=UserId(principal) if principal is not None else None,
        authorized_rooms=authorizer.get(ROOMS_CONTEXT_KEY, NO_CLAIM),
        subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered_subprotocols(event) else None,
    )


def token(event: Event) -> str | None:
    """`?token=`, else the protocol after `roomcast` in `Sec-WebSocket-Protocol: roomcast, <JWT>`
    (browsers cannot set headers on a WebSocket, and a URL ends up in proxies' logs)."""
    from_query = _optional_str(query_parameters(event).get("token"))
    if from_query is not None:
        return from_query
    offered = offered_subprotocols(event)
    others = [protocol for protocol in offered if protocol != SUBPROTOCOL]
    return others[0] if SUBPROTOCOL in offered and len(others) == 1 else None


def subprotocol_answer(request: ConnectRequest) -> dict[str, Any]:
    """A `$connect` response's headers choose the subprotocol, as the handshake requires
    (a browser that offered protocols fails a handshake that answers none)."""
    if request.subprotocol is None:
        return {}
    return {"headers": {"Sec-WebSocket-Protocol": request.subprotocol}}


def offered_subprotocols(event: Event) -> list[str]:
    headers = _mapping(event.get("headers"))
    value = next(
        (v for k, v in headers.items() if str(k).lower() == "sec-websocket-protocol"), None
    )
    if not isinstance(value, str):
        return []
    return [protocol.strip() for protocol in value.split(",") if protocol.strip()]


def method_arn(event: object) -> str:
    """The route an authorizer is asked about: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/ROUTE"""
    value = event.get("methodArn") if isinstance(event, Mapping) else None
    if not isinstance(value, str) or not value.startswith("arn:"):
        raise MalformedEvent("Malformed event: methodArn missing")
    return value


def query_parameters(event: Event) -> Mapping[str, Any]:
    """API Gateway omits queryStringParameters (or sends null) when there is no query."""
    return _mapping(event.get("queryStringParameters"))


def message_body(event: Event) -> str | bytes | None:
    """The frame as the client sent it: binary frames arrive base64-encoded."""
    body = event.get("body")
    if body is None:
        return None
    if not isinstance(body, str | bytes):
        raise MalformedEvent("Malformed event: body must be a string")
    if event.get("isBase64Encoded") is not True:
        return body
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedEvent("Malformed event: body is not valid base64") from None


@frozen
class QueueRecord:
    message_id: str
    body: str


def queue_records(event: object) -> list[QueueRecord]:
    """The records of an SQS event; a record without its id or body makes the whole event
    malformed, since it could not be reported failed alone."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise MalformedEvent("Malformed event: an SQS event has a list of Records")
    found = []
    for record in records:
        message_id = record.get("messageId") if isinstance(record, Mapping) else None
        body = record.get("body") if isinstance(record, Mapping) else None
        if not isinstance(message_id, str) or not isinstance(body, str):
            raise MalformedEvent("Malformed event: an SQS record has a messageId and a body")
        found.append(QueueRecord(message_id, body))
    return found


def describe(event: object) -> str:
    """A one-line summary safe to log: no query string, headers or body (they carry tokens)."""
    try:
        context = request_context(event)
    except MalformedEvent:
        return "event without requestContext"
    route, connection = context.get("routeKey"), context.get("connectionId")
    return f"route={route!r} connection={connection!r} request={context.get('requestId')!r}"


def _user_id(value: object) -> UserId:
    return UserId(value) if isinstance(value, str) and value else ANONYMOUS


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
