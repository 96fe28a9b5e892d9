"""Runs Lambda handlers in a thread pool, as separate Lambda invocations would run them."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from entrypoints.gateway.routing import Route

log = logging.getLogger("roomcast.gateway")

INTERNAL_SERVER_ERROR = "Internal server error"
TIMED_OUT = "Endpoint request timed out"


@dataclass(frozen=True)
class Outcome:
    """What API Gateway makes of one integration call: a status, a body, maybe an error."""

    status_code: int
    body: str = ""
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None and 200 <= self.status_code < 300


class LambdaContext:
    """The parts of Lambda's context object that handlers commonly read."""

    def __init__(self, function_name: str, request_id: str, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.memory_limit_in_mb = "512"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "roomcast-serve"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Invoker:
    def __init__(self, workers: int, timeout_seconds: float) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda")
        self._timeout = timeout_seconds

    async def invoke(self, route: Route, event: dict[str, Any]) -> Outcome:
        request_id = event["requestContext"]["requestId"]
        context = LambdaContext(route.function, request_id, self._timeout)
        loop = asyncio.get_running_loop()
        try:
            call = loop.run_in_executor(self._pool, route.handler, event, context)
            result = await asyncio.wait_for(call, self._timeout)
        except TimeoutError:
            log.error("%s (%s) timed out after %ss", route.handler_name, route.key, self._timeout)
            return Outcome(504, TIMED_OUT, error=TIMED_OUT)
        except Exception:
            log.exception("%s (%s) raised", route.handler_name, route.key)
            return Outcome(500, INTERNAL_SERVER_ERROR, error=INTERNAL_SERVER_ERROR)
        return _outcome_of(result)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _outcome_of(result: Any) -> Outcome:
    """A proxy integration's response: {"statusCode": ..., "body": ...}; no status means 200."""
    if not isinstance(result, dict):
        return Outcome(200)
    try:
        status_code = int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        log.error("integration response has an invalid statusCode: %r", result.get("statusCode"))
        return Outcome(502, INTERNAL_SERVER_ERROR, error=INTERNAL_SERVER_ERROR)
    body = result.get("body")
    return Outcome(status_code, "" if body is None else str(body))
