"""What use cases and ports hand back: replies, broadcast outcomes, reports."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from roomcast.domain.errors import DeliveryFailed, FailureKind
from roomcast.domain.model import ConnectionId


@frozen
class Reply:
    """The Lambda integration response for one inbound frame or lifecycle event."""

    status_code: int
    body: str


@frozen
class Failure:
    """What became of one recipient's frame that was not delivered: DeliveryFailed as a value."""

    kind: FailureKind
    message: str

    @classmethod
    def of(cls, error: DeliveryFailed) -> Failure:
        return cls(error.kind, error.message)

    def __str__(self) -> str:
        return self.message


@frozen
class BroadcastResult:
    """Which recipients were gone (HTTP 410) and which failed for another reason."""

    delivered: int = 0
    gone: frozenset[ConnectionId] = frozenset()
    failed: Mapping[ConnectionId, Failure] = field(factory=dict, hash=False)


@frozen
class DeliveryReport:
    """What a worker did with one shard: `skipped` when it was already done."""

    delivered: int = 0
    gone: int = 0
    failed: int = 0
    requeued: int = 0
    skipped: bool = False


@frozen
class SweepReport:
    checked: int
    removed: int

    def as_dict(self) -> dict[str, int]:
        return {"checked": self.checked, "removed": self.removed}


@frozen
class Stats:
    total_connections: int
    room_counts: Mapping[str, int] = field(factory=dict, hash=False)
