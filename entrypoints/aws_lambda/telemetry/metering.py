"""What one invocation's deliveries came to: a Notifier decorator counts into a Tally."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence

from attrs import define, field

from roomcast.domain.errors import ConnectionGone, DeliveryFailed, FailureKind
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult, DeliveryReport
from roomcast.ports import Notifier

log = logging.getLogger("roomcast.delivery")

# The `Reason` dimension of DeliveryFailures, one value per kind: the README documents these
# names and the dashboard (infra/template.yaml) charts them, so they stay as they are.
REASONS = {
    FailureKind.RATE_LIMITED: "RateLimited",
    FailureKind.PAYLOAD_TOO_LARGE: "PayloadTooLarge",
    FailureKind.FORBIDDEN: "Forbidden",
    FailureKind.SERVER_ERROR: "ServerError",
    FailureKind.TIMEOUT: "Timeout",
    FailureKind.UNREACHABLE: "Unreachable",
    FailureKind.OTHER: "Other",
}


@define
class Tally:
    """Counts for one invocation; only the thread running that invocation touches it."""

    delivered: int = 0
    gone: int = 0
    failures: Counter[str] = field(factory=Counter)  # by Reason
    fanout_sizes: list[int] = field(factory=list)
    fanout_ms: list[float] = field(factory=list)
    failed_quietly: bool = False  # the work failed though the answer is 200 ($disconnect)
    shards: int = 0  # work items a deliver invocation finished
    shards_skipped: int = 0  # of those, redeliveries of work already done
    requeued: int = 0  # recipients queued again after a failure that may pass

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def recipients(self) -> int:
        return sum(self.fanout_sizes)

    def note_shard(self, report: DeliveryReport) -> None:
        self.shards += 1
        self.shards_skipped += int(report.skipped)
        self.requeued += report.requeued

    def count_failure(self, kind: FailureKind) -> str:
        """Count one failure under its `Reason` and return that."""
        reason = REASONS[kind]
        self.failures[reason] += 1
        return reason


class MeteringNotifier:
    """Passes every call to `inner` and counts what became of each frame."""

    def __init__(self, inner: Notifier, tally: Tally) -> None:
        self._inner = inner
        self._tally = tally

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        try:
            self._inner.send(connection_id, frame)
        except ConnectionGone:
            self._tally.gone += 1
            log.info("connection gone", extra={"connectionId": connection_id.value,
                                               "frameAction": frame.action})
            raise
        except DeliveryFailed as failure:
            reason = self._tally.count_failure(failure.kind)
            log.warning("delivery failed", extra={"connectionId": connection_id.value,
                                                  "frameAction": frame.action, "reason": reason})
            raise
        self._tally.delivered += 1

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        started = time.perf_counter()
        result = self._inner.broadcast(connection_ids, frame)
        self._tally.fanout_ms.append(round((time.perf_counter() - started) * 1000, 3))
        self._tally.fanout_sizes.append(len(connection_ids))
        self._tally.delivered += result.delivered
        self._tally.gone += len(result.gone)
        reasons = Counter(self._tally.count_failure(f.kind) for f in result.failed.values())
        if result.gone:
            log.info("connections gone", extra={
                "frameAction": frame.action, "gone": len(result.gone),
                "connectionIds": sorted(c.value for c in result.gone),
            })
        if reasons:
            log.warning("delivery failed", extra={
                "frameAction": frame.action, "failed": sum(reasons.values()),
                "reasons": dict(reasons),
            })
        return result

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        return self._inner.find_gone(connection_ids)
