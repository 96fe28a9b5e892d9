"""The in-memory wiring the unit tests drive: a store, the chat service, a conversation."""

from __future__ import annotations

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.service import ChatService
from tests.unit.chat import Chat


@pytest.fixture
def room_log(clock: FixedClock) -> InMemoryRoomLog:
    return InMemoryRoomLog(clock)


@pytest.fixture
def memory_store(clock: FixedClock, room_log: InMemoryRoomLog) -> InMemoryConnectionStore:
    return InMemoryConnectionStore(clock, room_log)


@pytest.fixture
def service(
    memory_store: InMemoryConnectionStore,
    fake_notifier: FakeNotifier,
    clock: FixedClock,
    room_log: InMemoryRoomLog,
) -> ChatService:
    return ChatService(memory_store, fake_notifier, clock, log=room_log)


@pytest.fixture
def chat(service: ChatService, fake_notifier: FakeNotifier) -> Chat:
    return Chat(service, fake_notifier)
