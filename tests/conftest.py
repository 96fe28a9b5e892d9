"""Fixtures shared by several test folders: a controllable clock and the notifier fake."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def fake_notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture(autouse=True)
def _environment_as_it_was() -> Iterator[None]:
    """`roomcast serve` run in-process sets what --parameter-overrides gives the handlers in
    os.environ, as the CLI's own process should; no test may hand that on to the next."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
