"""Wraps each Lambda handler: one JSON log line and one EMF document per invocation.

The line carries ids, the route, the outcome, the duration and what the deliveries came
to; never a query string, a header or a body (tokens and messages live there).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from roomcast.entrypoints.aws_lambda.telemetry import metrics
from roomcast.entrypoints.aws_lambda.telemetry.invocation import Invocation
from roomcast.entrypoints.aws_lambda.telemetry.invocation_metrics import metric_documents
from roomcast.entrypoints.aws_lambda.telemetry.metering import Tally

log = logging.getLogger("roomcast.invocation")

Handler = TypeVar("Handler", bound=Callable[..., Any])
# What an invocation came to, from its result (and whether it raised): (status, outcome).
Outcome = Callable[[Any, bool], tuple[int, str]]

_tally: ContextVar[Tally | None] = ContextVar("roomcast_tally", default=None)
_warm = False


def current_tally() -> Tally:
    """The running invocation's tally (a throwaway one outside an instrumented handler)."""
    return _tally.get() or Tally()


def status_of(result: Any, raised: bool) -> int:
    if raised:
        return 500
    if isinstance(result, Mapping) and isinstance(result.get("statusCode"), int):
        return int(result["statusCode"])
    return 200


def outcome_of(status: int) -> str:
    if status >= 500:
        return "error"
    if status == 401:
        return "unauthorized"
    return "rejected" if status >= 400 else "ok"


def response_outcome(result: Any, raised: bool) -> tuple[int, str]:
    """A handler answering {"statusCode": ...}: the outcome follows the status."""
    status = status_of(result, raised)
    return status, outcome_of(status)


def policy_outcome(result: Any, raised: bool) -> tuple[int, str]:
    """The authorizer answers with an IAM policy, and API Gateway answers the handshake from
    it: Allow lets `$connect` run (ok), Deny is a 403 (unauthorized: a token that proved
    nobody), and raising is a 500 (error: a misconfiguration or a malformed event)."""
    if raised:
        return 500, "error"
    document = result.get("policyDocument") if isinstance(result, Mapping) else None
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    allowed = isinstance(statements, list) and bool(statements) and all(
        isinstance(s, Mapping) and s.get("Effect") == "Allow" for s in statements
    )
    return (200, "ok") if allowed else (403, "unauthorized")


def batch_outcome(result: Any, raised: bool) -> tuple[int, str]:
    """An SQS worker answering {"batchItemFailures": [...]}: an error if any record failed
    (the queue will redeliver it), as if it raised."""
    if raised:
        return 500, "error"
    failures = result.get("batchItemFailures") if isinstance(result, Mapping) else None
    return (500, "error") if failures else (200, "ok")


def instrumented(
    function: str, outcome: Outcome = response_outcome
) -> Callable[[Handler], Handler]:
    """Decorate a handler named `function` (connect, disconnect, message, deliver, cleanup,
    authorizer)
    whose result `outcome` reads."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def run(event: Any, context: Any = None) -> Any:
            global _warm
            cold_start, _warm = not _warm, True
            tally, raised, result = Tally(), True, None
            token = _tally.set(tally)
            started = time.perf_counter()
            try:
                result = handler(event, context)
                raised = False
                return result
            finally:
                _tally.reset(token)
                elapsed = (time.perf_counter() - started) * 1000
                status, came_to = outcome(result, raised)
                came_to = "error" if tally.failed_quietly else came_to
                report(Invocation(function, event, context, result, elapsed, tally, cold_start,
                                  status, came_to))

        return run  # type: ignore[return-value]

    return decorate


def report(invocation: Invocation) -> None:
    try:
        level = logging.WARNING if invocation.outcome == "error" else logging.INFO
        log.log(level, "invocation", extra=log_fields(invocation))
        for metric_sets in metric_documents(invocation):
            metrics.emit(metric_sets, {"function": invocation.function})
    except Exception:  # telemetry must never turn a handled request into a failure
        log.exception("could not report an invocation")


def log_fields(invocation: Invocation) -> dict[str, Any]:
    request, tally = invocation.request, invocation.tally
    fields: dict[str, Any] = {
        "function": invocation.function,
        "environment": metrics.environment(),
        "routeKey": request.get("routeKey"),
        "connectionId": request.get("connectionId"),
        "apiRequestId": request.get("requestId"),
        "aws_request_id": getattr(invocation.context, "aws_request_id", None),
        "status": invocation.status,
        "outcome": invocation.outcome,
        "durationMs": round(invocation.duration_ms, 2),
        "coldStart": invocation.cold_start,
    }
    if tally.fanout_sizes or tally.delivered or tally.gone or tally.failed:
        fields.update(
            fanoutSize=tally.recipients, broadcasts=len(tally.fanout_sizes),
            delivered=tally.delivered, gone=tally.gone, failed=tally.failed,
        )
    if invocation.function == "deliver":
        fields.update(shards=tally.shards, shardsSkipped=tally.shards_skipped,
                      requeued=tally.requeued)
    if invocation.function == "cleanup" and isinstance(invocation.result, Mapping):
        fields.update(checked=invocation.result.get("checked"),
                      removed=invocation.result.get("removed"))
    return {key: value for key, value in fields.items() if value is not None}
