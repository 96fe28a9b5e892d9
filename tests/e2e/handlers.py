"""Handlers for e2e templates: record each event, misbehave on request, else run the real ones.

The gateway imports these by the dotted names an e2e template gives (`tests.e2e.handlers.*`).
Every event is appended as one JSON line to $ROOMCAST_E2E_EVENT_LOG, so a test can read the
exact events the gateway built.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from roomcast.entrypoints.aws_lambda import handlers as real

_log_lock = threading.Lock()


def connect(event: dict[str, Any], context: Any) -> Any:
    _record(event)
    query = event.get("queryStringParameters") or {}
    if "reject" in query:
        return {"statusCode": int(query["reject"]), "body": "Refused by the test handler"}
    if "explode" in query:
        raise RuntimeError("$connect failed on purpose")
    return real.connect(event, context)


def message(event: dict[str, Any], context: Any) -> Any:
    _record(event)
    body = event.get("body") or ""
    if "explode" in body:
        raise RuntimeError("message handler failed on purpose")
    if "dawdle" in body:
        time.sleep(2)
    if "linger" in body:
        time.sleep(0.4)
    return real.message(event, context)


def authorize(event: dict[str, Any], context: Any) -> Any:
    _record(event)
    return real.authorize(event, context)


def disconnect(event: dict[str, Any], context: Any) -> Any:
    _record(event)
    return real.disconnect(event, context)


def deliver(event: dict[str, Any], context: Any) -> Any:
    """The queue's worker, unrecorded: its events are SQS's, not the gateway's."""
    return real.deliver(event, context)


def _record(event: dict[str, Any]) -> None:
    path = os.environ.get("ROOMCAST_E2E_EVENT_LOG")
    if not path:
        return
    with _log_lock, open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(event) + "\n")
