"""Builds the Lambda proxy events API Gateway sends WebSocket routes (aws_lambda parses them)."""

from __future__ import annotations

import base64
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def new_id() -> str:
    """An id shaped like API Gateway's connection and request ids, e.g. 'L0SM9cOFvHcCIhw='."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def new_api_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def request_time(epoch_ms: int) -> str:
    """API Gateway's requestTime, in the common log format: '09/Feb/2019:19:03:06 +0000'."""
    t = time.gmtime(epoch_ms / 1000)
    clock = time.strftime("%H:%M:%S", t)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


@dataclass(frozen=True)
class Api:
    api_id: str
    stage: str
    domain_name: str


@dataclass(frozen=True)
class Caller:
    """The connection as the events describe it; fixed from the handshake on."""

    connection_id: str
    connected_at: int
    source_ip: str
    user_agent: str
    # What a $connect authorizer allowed: requestContext.authorizer of every event.
    authorizer: Mapping[str, Any] | None = None


def trace_id(epoch_ms: int) -> str:
    """X-Ray's trace header as API Gateway adds it: Root=1-<epoch seconds, hex>-<96 random bits>."""
    return f"Root=1-{epoch_ms // 1000:08x}-{secrets.token_hex(12)}"


def _request_context(api: Api, caller: Caller, route_key: str, event_type: str) -> dict[str, Any]:
    """Every event's context; `requestId` equals `extendedRequestId`, as in API Gateway's."""
    epoch_ms = now_ms()
    request_id = new_id()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(epoch_ms),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": caller.connected_at,
        "requestTimeEpoch": epoch_ms,
        "identity": {"sourceIp": caller.source_ip, "userAgent": caller.user_agent},
        "requestId": request_id,
        "domainName": api.domain_name,
        "connectionId": caller.connection_id,
        "apiId": api.api_id,
    }
    if caller.authorizer is not None:
        context["authorizer"] = dict(caller.authorizer)
    return context


Pairs = Iterable[tuple[str, str]]


def _single_and_multi(pairs: Pairs) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


# API Gateway's edge ends the HTTP hop: its handshake headers never reach the integration.
HOP_BY_HOP = frozenset({"connection", "upgrade", "keep-alive", "te", "trailer"})


def local_port(request: web.BaseRequest) -> int:
    """The gateway's port the client connected to (X-Forwarded-Port)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else 0


def connect_headers(headers: Pairs, caller: Caller, port: int) -> list[tuple[str, str]]:
    """The client's headers as API Gateway forwards them: hop-by-hop ones out, its own in."""
    kept = [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]
    added = [
        ("X-Amzn-Trace-Id", trace_id(now_ms())),
        ("X-Forwarded-For", caller.source_ip),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "http"),
    ]
    return [*kept, *added]


def connect_event(
    api: Api, caller: Caller, headers: Pairs, query: Pairs, *, port: int
) -> dict[str, Any]:
    """CONNECT: headers always; query string parameters only when the URL has some."""
    single_headers, multi_headers = _single_and_multi(connect_headers(headers, caller, port))
    event: dict[str, Any] = {"headers": single_headers, "multiValueHeaders": multi_headers}
    single_query, multi_query = _single_and_multi(query)
    if single_query:
        event["queryStringParameters"] = single_query
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = _request_context(api, caller, "$connect", "CONNECT")
    event["isBase64Encoded"] = False
    return event


def message_event(api: Api, caller: Caller, route_key: str, body: str) -> dict[str, Any]:
    """MESSAGE: always a text frame's body (API Gateway closes on binary frames)."""
    context = _request_context(api, caller, route_key, "MESSAGE")
    context["messageId"] = new_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(api: Api, caller: Caller, status_code: int, reason: str) -> dict[str, Any]:
    """DISCONNECT: API Gateway puts the close code and reason in the request context."""
    context = _request_context(api, caller, "$disconnect", "DISCONNECT")
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    headers = {"Host": api.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }
