"""One Lambda invocation as the telemetry sees it: what the log line and the metrics read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from roomcast.entrypoints.aws_lambda.telemetry.metering import Tally


@frozen
class Invocation:
    function: str
    event: Any
    context: Any
    result: Any
    duration_ms: float
    tally: Tally
    cold_start: bool
    status: int
    outcome: str

    @property
    def request(self) -> Mapping[str, Any]:
        context = self.event.get("requestContext") if isinstance(self.event, Mapping) else None
        return context if isinstance(context, Mapping) else {}
