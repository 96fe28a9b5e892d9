"""roomcast's own metrics as CloudWatch Embedded Metric Format: JSON lines on stdout that
CloudWatch Logs turns into metrics, so a handler never calls the CloudWatch API."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import frozen

NAMESPACE = "roomcast"
ENVIRONMENT_VARIABLE = "ROOMCAST_ENVIRONMENT"
LOCAL_ENVIRONMENT = "local"

COUNT, MILLISECONDS = "Count", "Milliseconds"

# Every metric roomcast emits, with its unit. The template's alarms and dashboard name
# only these (a test holds them to it).
UNITS = {
    "ConnectionsOpened": COUNT,
    "ConnectionsRefused": COUNT,
    "ConnectionsClosed": COUNT,
    "MessagesReceived": COUNT,
    "FramesDelivered": COUNT,
    "GoneConnections": COUNT,
    "DeliveryFailures": COUNT,
    "FanoutSize": COUNT,
    "FanoutDuration": MILLISECONDS,
    "CleanupChecked": COUNT,
    "CleanupRemoved": COUNT,
    "HandlerErrors": COUNT,
}

Value = float | Sequence[float]
Sink = Callable[[Mapping[str, Any]], None]


@frozen
class MetricSet:
    """Metrics that share one set of dimension values: one EMF directive."""

    dimensions: Mapping[str, str]
    values: Mapping[str, Value]


def environment() -> str:
    """The `Environment` dimension: the stack's stage, so dev and prod never mix."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "").strip() or LOCAL_ENVIRONMENT


def document(
    metric_sets: Sequence[MetricSet], properties: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One EMF document. Dimension values and metric values are root members, so two sets
    in one document must not give the same dimension different values."""
    root: dict[str, Any] = dict(properties or {})
    directives = []
    for metric_set in metric_sets:
        if not metric_set.values:
            continue
        root.update(metric_set.dimensions)
        root.update({name: _value(value) for name, value in metric_set.values.items()})
        directives.append(
            {
                "Namespace": NAMESPACE,
                "Dimensions": [sorted(metric_set.dimensions)],
                "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in metric_set.values],
            }
        )
    root["_aws"] = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": directives}
    return root


def _value(value: Value) -> float | list[float]:
    return value if isinstance(value, int | float) else list(value)


def print_line(record: Mapping[str, Any]) -> None:
    """Lambda sends stdout to CloudWatch Logs line by line, whatever the LogFormat."""
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


_sink: Sink = print_line


def use_sink(sink: Sink) -> Sink:
    """Send documents elsewhere (the local gateway prints them readably); returns the old sink."""
    global _sink
    previous, _sink = _sink, sink
    return previous


def emit(metric_sets: Sequence[MetricSet], properties: Mapping[str, Any] | None = None) -> None:
    if any(metric_set.values for metric_set in metric_sets):
        _sink(document(metric_sets, properties))
