"""Room logs for the RoomLog contract and the adapter tests: each with the store that reads
its seq, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_history import DynamoDBRoomLog
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.history import Retention
from roomcast.domain.model import Message, RoomId, UserId
from tests.support.dynamodb_tables import DYNAMODB_BACKENDS, dynamodb_table

ROOM, OTHER = RoomId("lobby"), RoomId("games")
ALICE = UserId("alice")


class Logged(NamedTuple):
    log: Any
    store: Any
    client: Any = None  # the DynamoDB client and table, for fault injection
    table_name: str = ""


LogFactory = Callable[[pytest.FixtureRequest, FixedClock, Retention], Logged]


def _memory(request: pytest.FixtureRequest, clock: FixedClock, retention: Retention) -> Logged:
    log = InMemoryRoomLog(clock, retention)
    return Logged(log, InMemoryConnectionStore(clock, log))


def _on(backend: str) -> LogFactory:
    def factory(request: pytest.FixtureRequest, clock: FixedClock, retention: Retention) -> Logged:
        table = dynamodb_table(request, backend)
        log = DynamoDBRoomLog(table.client, table.name, clock, retention, page_size=7)
        store = DynamoDBConnectionStore(table.client, table.name, clock, page_size=7)
        return Logged(log, store, table.client, table.name)

    return factory


LOG_FACTORIES: dict[str, LogFactory] = {
    "memory": _memory,
    **{f"dynamodb-{backend}": _on(backend) for backend in DYNAMODB_BACKENDS},
}


def said(clock: FixedClock, text: str, room: RoomId = ROOM) -> Message:
    return Message(room, text, ALICE, clock.now_ms())


def append(world: Logged, clock: FixedClock, text: str, room: RoomId = ROOM) -> Message:
    return world.log.append(said(clock, text, room), after=world.store.room(room).seq)
