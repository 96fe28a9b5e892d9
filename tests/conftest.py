"""Fixtures shared by several test folders: a controllable clock and the notifier fake."""

from __future__ import annotations

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def fake_notifier() -> FakeNotifier:
    return FakeNotifier()
