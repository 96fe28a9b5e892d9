"""Runs Lambda handlers in a thread pool, as separate Lambda invocations would run them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from roomcast.entrypoints.gateway.isolation import FunctionFailed
from roomcast.entrypoints.gateway.routing import Route

log = logging.getLogger("roomcast.gateway")

INTERNAL_SERVER_ERROR = "Internal server error"
TIMED_OUT = "Endpoint request timed out"


@dataclass(frozen=True)
class Outcome:
    """What API Gateway makes of one integration call: a status, a body, maybe an error."""

    status_code: int
    body: str = ""
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

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


class Invocation:
    """One handler run: answered within the integration timeout, finished whenever it ends.

    Nothing cancels a run: as on API Gateway, the timeout decides only what the caller is
    told; the Lambda it invoked runs to its end.
    """

    def __init__(self, run: asyncio.Future[Outcome], timeout_seconds: float) -> None:
        self._run = run
        self._deadline = time.monotonic() + timeout_seconds
        self._timeout = timeout_seconds

    async def answer(self, route: Route) -> Outcome:
        """The outcome, or `Endpoint request timed out` once the timeout has passed."""
        remaining = self._deadline - time.monotonic()
        done, _ = await asyncio.wait({self._run}, timeout=max(0.0, remaining))
        if not done:
            log.error("%s (%s) timed out after %ss", route.handler_name, route.key, self._timeout)
            return Outcome(504, TIMED_OUT, error=TIMED_OUT)
        if self._run.cancelled():  # queued when the gateway shut its pool down
            return Outcome(500, INTERNAL_SERVER_ERROR, error=INTERNAL_SERVER_ERROR)
        return self._run.result()

    async def finished(self) -> None:
        await asyncio.wait({self._run})


class Invoker:
    """At most `workers` handlers run at once, and at most `max_queued` more wait: like a
    Lambda function's reserved concurrency, but with a queue where Lambda throttles at once."""

    def __init__(self, workers: int, timeout_seconds: float, max_queued: int = 10_000) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda")
        self._timeout = timeout_seconds
        self._capacity = workers + max_queued
        self._admitted = 0

    def admit(self) -> bool:
        """Reserve a place for one invocation (False when all are taken); event loop only."""
        if self._admitted >= self._capacity:
            return False
        self._admitted += 1
        return True

    def release(self) -> None:
        self._admitted -= 1

    def start(self, route: Route, event: dict[str, Any], *, admitted: bool = False) -> Invocation:
        """Run the handler in the pool; an admitted invocation gives its place back at the end."""
        loop = asyncio.get_running_loop()
        try:
            run = loop.run_in_executor(self._pool, self._run, route, event)
        except RuntimeError:  # the pool is shut down: the gateway is stopping
            run = loop.create_future()
            run.set_result(Outcome(500, INTERNAL_SERVER_ERROR, error=INTERNAL_SERVER_ERROR))
        if admitted:
            run.add_done_callback(lambda _: self.release())
        return Invocation(run, self._timeout)

    async def invoke(self, route: Route, event: dict[str, Any]) -> Outcome:
        """Start a run and wait for its answer (not for its end)."""
        return await self.start(route, event).answer(route)

    def _run(self, route: Route, event: dict[str, Any]) -> Outcome:
        request_id = event["requestContext"]["requestId"]
        context = LambdaContext(route.function, request_id, self._timeout)
        try:
            return _outcome_of(route.handler(event, context))
        except FunctionFailed as failure:  # its traceback is in the function's own log
            log.error("%s (%s) failed: %s: %s", failure.function, route.key,
                      failure.error_type, failure.message)
            return Outcome(500, INTERNAL_SERVER_ERROR, error=INTERNAL_SERVER_ERROR)
        except Exception:
            log.exception("%s (%s) raised", route.handler_name, route.key)
            return Outcome(500, INTERNAL_SERVER_ERROR, error=INTERNAL_SERVER_ERROR)

    def call(
        self,
        function: str,
        handler: Any,
        event: Any,
        request_id: str,
        timeout_seconds: float,
    ) -> Any:
        """Run `handler` in the calling thread, as an event source invokes a function (not
        a route: there is no integration response, and the function's own timeout holds);
        its failure is logged as a route's is, then raised for the caller to act on."""
        context = LambdaContext(function, request_id, timeout_seconds)
        try:
            return handler(event, context)
        except FunctionFailed as failure:  # its traceback is in the function's own log
            log.error("%s failed: %s: %s", failure.function, failure.error_type, failure.message)
            raise
        except Exception:
            log.exception("%s raised", function)
            raise

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
    headers = result.get("headers")
    headers = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
    return Outcome(status_code, "" if body is None else str(body), headers=headers)
