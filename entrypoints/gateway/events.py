"""Lambda proxy events for WebSocket routes, shaped as API Gateway sends them."""

from __future__ import annotations

import base64
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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


def _request_context(
    api: Api, caller: Caller, route_key: str, event_type: str, *, user_agent: bool = False
) -> dict[str, Any]:
    epoch_ms = now_ms()
    identity = {"sourceIp": caller.source_ip}
    if user_agent:
        identity["userAgent"] = caller.user_agent
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": new_id(),
        "requestTime": request_time(epoch_ms),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": caller.connected_at,
        "requestTimeEpoch": epoch_ms,
        "identity": identity,
        "requestId": new_id(),
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


def connect_event(
    api: Api,
    caller: Caller,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """CONNECT: headers always; query string parameters only when the URL has some."""
    forwarded = [("X-Forwarded-For", caller.source_ip), ("X-Forwarded-Proto", "http")]
    single_headers, multi_headers = _single_and_multi([*headers, *forwarded])
    event: dict[str, Any] = {"headers": single_headers, "multiValueHeaders": multi_headers}
    single_query, multi_query = _single_and_multi(query)
    if single_query:
        event["queryStringParameters"] = single_query
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = _request_context(api, caller, "$connect", "CONNECT", user_agent=True)
    event["isBase64Encoded"] = False
    return event


def message_event(
    api: Api, caller: Caller, route_key: str, body: str, *, is_base64_encoded: bool = False
) -> dict[str, Any]:
    context = _request_context(api, caller, route_key, "MESSAGE")
    context["messageId"] = new_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": is_base64_encoded}


def disconnect_event(api: Api, caller: Caller, status_code: int, reason: str) -> dict[str, Any]:
    """DISCONNECT: API Gateway puts the close code and reason in the request context."""
    context = _request_context(api, caller, "$disconnect", "DISCONNECT", user_agent=True)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    headers = {"Host": api.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }
