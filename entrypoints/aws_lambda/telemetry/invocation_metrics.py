"""What one invocation adds to roomcast's metrics, as EMF metric sets."""

from __future__ import annotations

from collections.abc import Mapping

from roomcast.entrypoints.aws_lambda.telemetry import metrics
from roomcast.entrypoints.aws_lambda.telemetry.invocation import Invocation
from roomcast.entrypoints.aws_lambda.telemetry.metering import Tally
from roomcast.entrypoints.aws_lambda.telemetry.metrics import MetricSet


def metric_documents(invocation: Invocation) -> list[list[MetricSet]]:
    """The main document, then one per delivery-failure reason (a dimension value each)."""
    environment = {"Environment": metrics.environment()}
    error = int(invocation.outcome == "error")
    main = [
        MetricSet(environment, {**_lifecycle(invocation), **_deliveries(invocation.tally),
                                **_cleanup(invocation), **_shards(invocation),
                                "HandlerErrors": error}),
        MetricSet({**environment, "Function": invocation.function}, {"HandlerErrors": error}),
    ]
    if invocation.function == "message":
        route = str(invocation.request.get("routeKey") or "unknown")
        main.append(MetricSet({**environment, "Route": route}, {"MessagesReceived": 1}))
    by_reason = [
        [MetricSet({**environment, "Reason": reason}, {"DeliveryFailures": count})]
        for reason, count in sorted(invocation.tally.failures.items())
    ]
    return [main, *by_reason]


def _lifecycle(invocation: Invocation) -> dict[str, float]:
    """A connection is opened by `$connect`; it is refused by `$connect` (401) or, in front of
    it, by the authorizer's Deny (403)."""
    if invocation.outcome == "unauthorized" and invocation.function in ("connect", "authorizer"):
        return {"ConnectionsRefused": 1}
    if invocation.function == "connect":
        return {"ConnectionsOpened": 1} if invocation.outcome == "ok" else {}
    return {"ConnectionsClosed": 1} if invocation.function == "disconnect" else {}


def _deliveries(tally: Tally) -> dict[str, metrics.Value]:
    if not (tally.fanout_sizes or tally.delivered or tally.gone or tally.failed):
        return {}
    counts: dict[str, metrics.Value] = {
        "FramesDelivered": tally.delivered,
        "GoneConnections": tally.gone,
        "DeliveryFailures": tally.failed,
    }
    if tally.fanout_sizes:
        counts.update(FanoutSize=tally.fanout_sizes, FanoutDuration=tally.fanout_ms)
    return counts


def _shards(invocation: Invocation) -> dict[str, float]:
    if invocation.function != "deliver":
        return {}
    tally = invocation.tally
    return {"ShardsDelivered": tally.shards - tally.shards_skipped,
            "ShardsSkipped": tally.shards_skipped, "RecipientsRequeued": tally.requeued}


def _cleanup(invocation: Invocation) -> dict[str, float]:
    result = invocation.result
    if invocation.function != "cleanup" or not isinstance(result, Mapping):
        return {}
    return {"CleanupChecked": result["checked"], "CleanupRemoved": result["removed"]}
