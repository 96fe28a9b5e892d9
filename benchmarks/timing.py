"""Timing helpers: best-of-N wall time, so a noisy shared machine skews ratios less."""

from __future__ import annotations

import time
from collections.abc import Callable

from attrs import frozen


@frozen
class Ratio:
    name: str
    subject_s: float
    baseline_s: float
    baseline: str

    @property
    def ratio(self) -> float:
        return self.subject_s / self.baseline_s

    def line(self) -> str:
        return (
            f"{self.name:<44} {self.ratio:8.2f}x  "
            f"({self.subject_s * 1e3:9.2f} ms vs {self.baseline_s * 1e3:9.2f} ms {self.baseline})"
        )


def best_of(action: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def compare(
    name: str,
    subject: Callable[[], object],
    baseline: Callable[[], object],
    baseline_name: str,
    repeats: int = 5,
) -> Ratio:
    """Interleave subject and baseline runs so drifting load hits both alike."""
    subject_best = baseline_best = float("inf")
    for _ in range(repeats):
        baseline_best = min(baseline_best, best_of(baseline, 1))
        subject_best = min(subject_best, best_of(subject, 1))
    return Ratio(name, subject_best, baseline_best, baseline_name)
