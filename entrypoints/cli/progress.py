"""A progress bar on stderr for long sweeps: redrawn in place on a terminal, a line per tenth
otherwise (so a log file or CI output shows it too)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from roomcast.domain.model import Connection

WIDTH = 30
REDRAW_SECONDS = 0.1


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self._label, self._total, self._stream = label, total, stream
        self._terminal = stream.isatty()
        self._last_draw = 0.0
        self._last_tenth = -1

    def update(self, done: int) -> None:
        if self._terminal:
            now = time.monotonic()
            if done == self._total or now - self._last_draw >= REDRAW_SECONDS:
                self._last_draw = now
                self._stream.write("\r" + self.line(done))
                self._stream.flush()
        else:
            tenth = done * 10 // max(self._total, 1)
            if tenth > self._last_tenth:
                self._last_tenth = tenth
                self._stream.write(self.line(done) + "\n")

    def finish(self) -> None:
        if self._terminal:
            self._stream.write("\n")
        self._stream.flush()

    def line(self, done: int) -> str:
        share = done / self._total if self._total else 1.0
        filled = round(share * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        return f"{self._label} [{bar}] {done}/{self._total} {share:4.0%}"


class CountingStore:
    """A store whose `connections()` is a list read beforehand, reporting each one handed out."""

    def __init__(
        self, inner: Any, connections: Sequence[Connection], report: Callable[[int], None]
    ) -> None:
        self._inner = inner
        self._connections = connections
        self._report = report

    def connections(self) -> Iterator[Connection]:
        for handed_out, connection in enumerate(self._connections, start=1):
            self._report(handed_out)
            yield connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
