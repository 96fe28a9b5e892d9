"""A Notifier that keeps a broadcast under a rate: a deliver worker's share of the budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult, Failure
from roomcast.ports import Notifier

SLICE_SECONDS = 0.1


class PacedNotifier:
    """Broadcasts in slices of a tenth of a second's worth of posts, each slice starting no
    sooner than the rate allows since the broadcast began: at most `rate` posts a second,
    on average over any whole broadcast, and bursts of one slice. `send` and `find_gone`
    pass through (a worker sends nothing alone)."""

    def __init__(
        self,
        inner: Notifier,
        rate: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate is a positive number of posts per second, not {rate}")
        self._inner = inner
        self._rate = rate
        self._slice = max(1, int(rate * SLICE_SECONDS))
        self._monotonic = monotonic
        self._sleep = sleep

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        self._inner.send(connection_id, frame)

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        return self._inner.find_gone(connection_ids)

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        started = self._monotonic()
        delivered = 0
        gone: set[ConnectionId] = set()
        failed: dict[ConnectionId, Failure] = {}
        for start in range(0, len(connection_ids), self._slice):
            wait = started + start / self._rate - self._monotonic()
            if wait > 0:
                self._sleep(wait)
            result = self._inner.broadcast(connection_ids[start:start + self._slice], frame)
            delivered += result.delivered
            gone |= result.gone
            failed |= result.failed
        return BroadcastResult(delivered=delivered, gone=frozenset(gone), failed=failed)
