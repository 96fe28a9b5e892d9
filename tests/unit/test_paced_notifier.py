"""A deliver worker's notifier keeps to its share of the callback budget."""

from __future__ import annotations

import pytest

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.paced_notifier import PacedNotifier
from roomcast.domain.errors import FailureKind
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId

FRAME = Frame({"action": "message", "message": "hi"})


class SteppedTime:
    """A clock that moves only when slept, or by `cost` per post to stand for the network."""

    def __init__(self) -> None:
        self.now = 0.0
        self.post_started: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


class TimedNotifier(FakeNotifier):
    def __init__(self, time: SteppedTime) -> None:
        super().__init__()
        self.time = time

    def broadcast(self, connection_ids, frame):
        self.time.post_started.extend([self.time.now] * len(connection_ids))
        return super().broadcast(connection_ids, frame)


def ids(count: int) -> list[ConnectionId]:
    return [ConnectionId(f"c{n}") for n in range(count)]


@pytest.mark.parametrize(("rate", "count"), [(1_000, 2_000), (500, 1_234), (5, 12)])
def test_no_window_of_a_second_holds_more_than_the_rate_and_a_slice(rate, count):
    time = SteppedTime()
    paced = PacedNotifier(TimedNotifier(time), rate, time.monotonic, time.sleep)
    result = paced.broadcast(ids(count), FRAME)
    assert result.delivered == count
    started = time.post_started
    burst = max(1, int(rate * 0.1))
    for index, moment in enumerate(started):
        in_window = sum(1 for t in started[index:] if t < moment + 1.0)
        assert in_window <= rate + burst
    assert started[-1] == pytest.approx((count - 1) // burst * burst / rate)


def test_what_the_slices_found_is_added_up():
    time = SteppedTime()
    inner = TimedNotifier(time)
    recipients = ids(250)
    inner.mark_gone(recipients[3], recipients[240])
    inner.mark_failing(recipients[120], FailureKind.RATE_LIMITED)
    result = PacedNotifier(inner, 1_000, time.monotonic, time.sleep).broadcast(recipients, FRAME)
    assert result.delivered == 247
    assert result.gone == {recipients[3], recipients[240]}
    assert set(result.failed) == {recipients[120]}


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        PacedNotifier(FakeNotifier(), 0)
