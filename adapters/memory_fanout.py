"""In-memory fan-out queue and work ledger: the tests' queue, and the ledger of the
memory store (`roomcast serve` runs its queues in entrypoints/gateway/queues.py)."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence

from roomcast.domain.fanout import Shard

REMEMBERED_WORK = 100_000


class InMemoryFanoutQueue:
    """Thread-safe. Shards wait here until `take`n. Delays are kept, not waited: `take`
    hands out a delayed shard with its delay, for the caller to honour."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: deque[tuple[Shard, int]] = deque()

    def enqueue(self, shards: Sequence[Shard], delay_seconds: int = 0) -> list[Shard]:
        with self._lock:
            self._waiting.extend((shard, delay_seconds) for shard in shards)
        return []

    def take(self) -> tuple[Shard, int] | None:
        """The oldest waiting shard and its delay in seconds, or None."""
        with self._lock:
            return self._waiting.popleft() if self._waiting else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)


class InMemoryWorkLedger:
    """Remembers the last REMEMBERED_WORK work ids done (a redelivery comes soon or never)."""

    def __init__(self, remembered: int = REMEMBERED_WORK) -> None:
        self._lock = threading.Lock()
        self._done: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    def is_done(self, work_id: str) -> bool:
        with self._lock:
            return work_id in self._done

    def mark_done(self, work_id: str) -> None:
        with self._lock:
            self._done[work_id] = None
            while len(self._done) > self._remembered:
                self._done.popitem(last=False)
