"""The contract suite's adapter matrix: every adapter that claims a port runs the same tests.

Add an adapter by adding a factory to STORE_FACTORIES / NOTIFIER_FACTORIES: each takes the
pytest request and the test's clock and returns a ready adapter (and cleans up after itself
through request.addfinalizer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.memory_store import InMemoryConnectionStore
from tests.support.dynamodb_tables import DYNAMODB_STORE_FACTORIES
from tests.support.notifier_harnesses import FAULT_INJECTING_HARNESSES, MOTO_HARNESSES

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


class FakeNotifierHarness:
    """Drives a notifier's world: who is gone, who fails, what arrived where."""

    def __init__(self) -> None:
        self.notifier = FakeNotifier()

    def mark_gone(self, connection_id: Any) -> None:
        self.notifier.mark_gone(connection_id)

    def mark_failing(self, connection_id: Any) -> None:
        self.notifier.mark_failing(connection_id, "Forbidden")

    def received(self, connection_id: Any) -> list[dict[str, Any]]:
        return self.notifier.frames_for(connection_id)


NotifierFactory = Callable[[pytest.FixtureRequest], Any]

NOTIFIER_HARNESSES: dict[str, NotifierFactory] = {
    "fake": lambda request: FakeNotifierHarness(),
    **FAULT_INJECTING_HARNESSES,
    **MOTO_HARNESSES,
}

# moto accepts every connection id and never answers 410 or 403 (DESIGN.md), so the
# contract's gone/failing half (fixture `fault_injecting_harness`) leaves these out.
CANNOT_INJECT_FAULTS = frozenset(MOTO_HARNESSES)


@pytest.fixture(params=sorted(NOTIFIER_HARNESSES))
def notifier_harness(request: pytest.FixtureRequest) -> Any:
    return NOTIFIER_HARNESSES[request.param](request)


@pytest.fixture(params=sorted(set(NOTIFIER_HARNESSES) - CANNOT_INJECT_FAULTS))
def fault_injecting_harness(request: pytest.FixtureRequest) -> Any:
    return NOTIFIER_HARNESSES[request.param](request)
