"""The in-memory wiring the unit tests drive: a store, the chat service, a conversation."""

from __future__ import annotations

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.service import ChatService
from tests.unit.chat import Chat


@pytest.fixture
def memory_store(clock: FixedClock) -> InMemoryConnectionStore:
    return InMemoryConnectionStore(clock)


@pytest.fixture
def service(
    memory_store: InMemoryConnectionStore, fake_notifier: FakeNotifier, clock: FixedClock
) -> ChatService:
    return ChatService(memory_store, fake_notifier, clock)


@pytest.fixture
def chat(service: ChatService, fake_notifier: FakeNotifier) -> Chat:
    return Chat(service, fake_notifier)
