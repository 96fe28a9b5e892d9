"""Handlers for the fidelity e2e template: the recording e2e handlers, plus what API Gateway
features need: a `$connect` that selects a subprotocol or dawdles, a two-way `echo` route."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e import handlers as recording


def connect(event: dict[str, Any], context: Any) -> Any:
    query = event.get("queryStringParameters") or {}
    response = recording.connect(event, context)
    if "dawdle" in query:
        time.sleep(float(query["dawdle"]))
    if "subprotocol" in query:
        response = {**response, "headers": {"Sec-WebSocket-Protocol": query["subprotocol"]}}
    return response


def message(event: dict[str, Any], context: Any) -> Any:
    if event["requestContext"]["routeKey"] == "echo":
        recording._record(event)
        return {"statusCode": 200, "body": json.dumps({"echo": json.loads(event["body"])})}
    return recording.message(event, context)


def disconnect(event: dict[str, Any], context: Any) -> Any:
    return recording.disconnect(event, context)


deliver = recording.deliver
