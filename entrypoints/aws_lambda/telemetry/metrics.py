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
MAX_VALUES = 100  # per metric in one EMF document

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
    "ShardsDelivered": COUNT,
    "ShardsSkipped": COUNT,
    "RecipientsRequeued": COUNT,
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
    """One document, or several when a metric has more values than EMF takes in one."""
    for part in _within_limits(metric_sets):
        if any(metric_set.values for metric_set in part):
            _sink(document(part, properties))


def _within_limits(metric_sets: Sequence[MetricSet]) -> list[list[MetricSet]]:
    """EMF takes at most 100 values per metric per document (a sweep may broadcast to many
    rooms): the first document keeps every single value, the next ones the rest, 100 by 100."""
    longest = max((len(v) for s in metric_sets for v in s.values.values()
                   if not isinstance(v, int | float)), default=1)
    return [
        [MetricSet(s.dimensions, _part(s.values, start)) for s in metric_sets]
        for start in range(0, max(longest, 1), MAX_VALUES)
    ]


def _part(values: Mapping[str, Value], start: int) -> dict[str, Value]:
    part: dict[str, Value] = {}
    for name, value in values.items():
        if isinstance(value, int | float):
            if start == 0:
                part[name] = value
        elif chunk := list(value[start:start + MAX_VALUES]):
            part[name] = chunk
    return part
