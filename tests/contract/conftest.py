"""The contract suite's adapter matrix: every adapter that claims a port runs the same tests.

Add a store by adding a factory to STORE_FACTORIES: it takes the pytest request and the
test's clock and returns a ready adapter (and cleans up after itself through
request.addfinalizer). Add a notifier by adding a harness factory to NOTIFIER_HARNESSES
(tests/support/notifier_harnesses.py): it takes the request and returns a harness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.memory_store import InMemoryConnectionStore
from tests.support.dynamodb_tables import DYNAMODB_STORE_FACTORIES
from tests.support.notifier_harnesses import (
    FAULT_INJECTING_HARNESSES,
    MOTO_HARNESSES,
    FakeNotifierHarness,
    InProcessHarness,
    quick_read_timeouts,
)

StoreFactory = Callable[[pytest.FixtureRequest, FixedClock], Any]


def _memory_store(request: pytest.FixtureRequest, clock: FixedClock) -> InMemoryConnectionStore:
    return InMemoryConnectionStore(clock)


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": _memory_store,
    **DYNAMODB_STORE_FACTORIES,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, clock: FixedClock) -> Any:
    return STORE_FACTORIES[request.param](request, clock)


NotifierFactory = Callable[[pytest.FixtureRequest], Any]

NOTIFIER_HARNESSES: dict[str, NotifierFactory] = {
    "fake": lambda request: FakeNotifierHarness(),
    "inprocess": InProcessHarness,
    **FAULT_INJECTING_HARNESSES,
    **MOTO_HARNESSES,
}

# moto accepts every connection id and never answers 410 or 403 (whatever is posted to any
# id, it keeps), so the contract's gone and failing halves (fixtures
# `gone_injecting_harness` and `fault_injecting_harness`) leave these out.
CANNOT_INJECT_FAULTS = frozenset(MOTO_HARNESSES)
# The in-process notifier finds a closed or unknown connection gone, but fails only a frame
# over the post limit, never one connection: it runs the gone half, not the failing one.
CANNOT_FAIL_ONE_CONNECTION = frozenset({"inprocess"})


@pytest.fixture(params=sorted(NOTIFIER_HARNESSES))
def notifier_harness(request: pytest.FixtureRequest) -> Any:
    return NOTIFIER_HARNESSES[request.param](request)


@pytest.fixture(params=sorted(set(NOTIFIER_HARNESSES) - CANNOT_INJECT_FAULTS))
def gone_injecting_harness(request: pytest.FixtureRequest) -> Any:
    return NOTIFIER_HARNESSES[request.param](request)


@pytest.fixture(
    params=sorted(set(NOTIFIER_HARNESSES) - CANNOT_INJECT_FAULTS - CANNOT_FAIL_ONE_CONNECTION)
)
def fault_injecting_harness(request: pytest.FixtureRequest) -> Any:
    return NOTIFIER_HARNESSES[request.param](request)


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set up before the harness (`usefixtures`), so that its notifier times out quickly."""
    quick_read_timeouts(monkeypatch)
