"""The fan-out queue and its ledger: where the shards of a big broadcast wait for a worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from roomcast.domain.fanout import Shard


class FanoutQueue(Protocol):
    def enqueue(self, shards: Sequence[Shard], delay_seconds: int = 0) -> list[Shard]:
        """Queue every shard for a worker, after `delay_seconds`; return those it could not
        queue (after its own retries), so that the caller delivers them itself and nothing
        is dropped. A shard too big for one queued item may be queued as its halves."""
        ...


class WorkLedger(Protocol):
    """Which work items are done, so that a redelivered one is not delivered twice."""

    def is_done(self, work_id: str) -> bool:
        ...

    def mark_done(self, work_id: str) -> None:
        """Remember `work_id` for at least as long as the queue may redeliver it."""
        ...
