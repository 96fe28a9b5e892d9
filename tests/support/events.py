"""API Gateway WebSocket proxy events in the shapes API Gateway really sends."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

API_ID = "a1b2c3d4e5"
REGION = "us-east-1"
STAGE = "dev"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
ENDPOINT = f"https://{DOMAIN}/{STAGE}"
ACTION_ROUTES = ("joinRoom", "leaveRoom", "sendMessage", "ping")
CONNECTED_AT = 1_700_000_000_000

_ids = itertools.count(1)


def new_connection_id() -> str:
    """Shaped like real ids: base64 characters ending in '=' (e.g. 'L0SM9cOFvHcCIhw=')."""
    return f"L0SM{next(_ids):08d}Cw="


def connect_event(
    connection_id: str,
    query: dict[str, str] | None = None,
    source_ip: str = "203.0.113.7",
    user_agent: str = "Mozilla/5.0 (pytest)",
) -> dict[str, Any]:
    headers = {
        "Host": DOMAIN,
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "User-Agent": user_agent,
        "X-Amzn-Trace-Id": "Root=1-65c5f0a0-0123456789abcdef01234567",
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": _context("$connect", "CONNECT", connection_id, source_ip)
        | {"identity": {"sourceIp": source_ip, "userAgent": user_agent}},
        "isBase64Encoded": False,
    }
    if query:  # API Gateway leaves both keys out when the URL has no query string
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def message_event(
    connection_id: str, body: str | dict[str, Any] | None, *, binary: bool = False
) -> dict[str, Any]:
    """A MESSAGE event; the route is the frame's action when it names a route, else $default."""
    text = json.dumps(body) if isinstance(body, dict) else body
    action = body.get("action") if isinstance(body, dict) else None
    route = action if action in ACTION_ROUTES else "$default"
    context = _context(route, "MESSAGE", connection_id) | {"messageId": "ZKBfudqgoAMCJpQ="}
    if binary and text is not None:
        text = base64.b64encode(text.encode()).decode()
    return {"requestContext": context, "body": text, "isBase64Encoded": binary}


def disconnect_event(
    connection_id: str, status_code: int = 1001, reason: str = "Going away"
) -> dict[str, Any]:
    headers = {"Host": DOMAIN, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    context = _context("$disconnect", "DISCONNECT", connection_id) | {
        "disconnectStatusCode": status_code,
        "disconnectReason": reason,
    }
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2024-02-09T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/dev-roomcast-cleanup"],
        "detail": {},
    }


def _context(
    route_key: str, event_type: str, connection_id: str, source_ip: str = "203.0.113.7"
) -> dict[str, Any]:
    request = next(_ids)
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": f"ext-{request}",
        "requestTime": "09/Feb/2024:12:00:00 +0000",
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": CONNECTED_AT,
        "requestTimeEpoch": CONNECTED_AT + request,
        "identity": {"sourceIp": source_ip},
        "requestId": f"req-{request}",
        "domainName": DOMAIN,
        "connectionId": connection_id,
        "apiId": API_ID,
    }


CONNECT_ARN = f"arn:aws:execute-api:{REGION}:123456789012:{API_ID}/{STAGE}/$connect"


def authorizer_event(
    connection_id: str, query: dict[str, str] | None = None, protocols: str | None = None
) -> dict[str, Any]:
    """What API Gateway sends a REQUEST authorizer on $connect: the CONNECT request's headers
    and query, plus `type` and the route's `methodArn`."""
    event = connect_event(connection_id, query)
    if protocols is not None:
        event["headers"]["Sec-WebSocket-Protocol"] = protocols
        event["multiValueHeaders"]["Sec-WebSocket-Protocol"] = [protocols]
    return {"type": "REQUEST", "methodArn": CONNECT_ARN, "stageVariables": {}, **event}
