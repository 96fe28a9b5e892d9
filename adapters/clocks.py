"""Clock adapters: the system clock and a controllable one for tests."""

from __future__ import annotations

import threading
import time


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FixedClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self._now = now_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now

    def advance(self, *, ms: int = 0, seconds: float = 0) -> None:
        with self._lock:
            self._now += ms + int(seconds * 1000)
