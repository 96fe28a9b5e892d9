"""What the concurrent PostToConnection notifiers share: bounded fan-out with retries, run on
one background event loop for synchronous callers."""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Sequence
from typing import Any, Literal, TypeVar

from roomcast.adapters.background_loop import BackgroundLoop
from roomcast.adapters.management_api import Outcome, Retryable, RetryPolicy, exhausted, tally
from roomcast.domain.errors import ConnectionGone, DeliveryFailed
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult

log = logging.getLogger(__name__)
T = TypeVar("T")

# PostToConnection carries a frame; GetConnection (the cleanup job's probe) carries nothing.
Operation = Literal["post", "get"]

# Notifiers whose loop is running: closed at interpreter exit (while the daemon loop threads
# still run), so a script or CLI that never calls close() ends without "Unclosed ..." noise.
_running: weakref.WeakSet[LoopNotifier] = weakref.WeakSet()


@atexit.register
def _close_running() -> None:
    for notifier in list(_running):
        notifier.close()


class LoopNotifier(ABC):
    """At most `concurrency` requests in flight, so N recipients take about N/concurrency trips.

    The bound holds across every caller at once. Synchronous callers (Lambda handlers, the
    local gateway's worker threads) share one event loop on a daemon thread, started at first
    use; close() releases it and whatever the subclass opened on it.
    """

    def __init__(self, concurrency: int, retry: RetryPolicy | None, loop_name: str) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self._retry = retry or RetryPolicy()
        self._slots = asyncio.Semaphore(concurrency)
        self._loop: BackgroundLoop | None = None
        self.loop_name = loop_name
        self._loop_guard = threading.Lock()
        self._closed = False

    @abstractmethod
    async def _attempt(
        self, operation: Operation, connection_id: ConnectionId, data: bytes
    ) -> None:
        """One request; raises Retryable, ConnectionGone or DeliveryFailed."""

    @abstractmethod
    async def _release(self) -> None:
        """Close what the subclass opened on the loop (clients, connection pools)."""

    # -- the port ----------------------------------------------------------------

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        self._run(self._call("post", connection_id, frame.encode()))

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        return self._run(self._broadcast(connection_ids, frame.encode()))

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        return self._run(self._find_gone(connection_ids))

    def close(self) -> None:
        with self._loop_guard:
            self._closed = True
            loop, self._loop = self._loop, None
        _running.discard(self)
        if loop is not None:
            loop.run(self._release())
            loop.stop()

    # -- on the loop ---------------------------------------------------------------

    async def _broadcast(
        self, connection_ids: Sequence[ConnectionId], data: bytes
    ) -> BroadcastResult:
        outcomes = await asyncio.gather(*(self._outcome(c, data) for c in connection_ids))
        return tally(zip(connection_ids, outcomes, strict=True))

    async def _outcome(self, connection_id: ConnectionId, data: bytes) -> Outcome:
        try:
            await self._call("post", connection_id, data)
        except (ConnectionGone, DeliveryFailed) as outcome:
            return outcome
        return None

    async def _find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        verdicts = await asyncio.gather(*(self._is_gone(c) for c in connection_ids))
        return frozenset(c for c, gone in zip(connection_ids, verdicts, strict=True) if gone)

    async def _is_gone(self, connection_id: ConnectionId) -> bool:
        try:
            await self._call("get", connection_id, b"")
        except ConnectionGone:
            return True
        except DeliveryFailed as failure:
            log.warning("could not probe %s, keeping it: %s", connection_id, failure)
        return False

    async def _call(self, operation: Operation, connection_id: ConnectionId, data: bytes) -> None:
        last: Retryable | None = None
        for pause in self._retry.pauses():
            if pause:
                await asyncio.sleep(pause)
            try:
                async with self._slots:
                    await self._attempt(operation, connection_id, data)
                return
            except Retryable as failure:
                log.debug("%s %s: %s", operation, connection_id, failure)
                last = failure
        raise exhausted(last, self._retry.attempts)

    # -- the bridge from synchronous callers -----------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self._loop_guard:
            if self._closed:
                coroutine.close()
                raise RuntimeError(f"{type(self).__name__} is closed")
            if self._loop is None:
                self._loop = BackgroundLoop(name=self.loop_name)
                _running.add(self)
            loop = self._loop
        return loop.run(coroutine)
