"""A membership whose connection record is gone (a removal cut short between its two
writes) must not haunt its room: the first 410 through that room drops it."""

from __future__ import annotations

import pytest

from roomcast.adapters.dynamodb_history import DynamoDBRoomLog
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.domain.model import ConnectionId, RoomId, UserId
from roomcast.domain.service import ChatService
from tests.support.dynamodb_tables import DYNAMODB_BACKENDS, dynamodb_table

LOBBY = RoomId("lobby")
ALICE, GHOST = ConnectionId("conn-alice"), ConnectionId("conn-ghost")


@pytest.fixture(params=DYNAMODB_BACKENDS)
def haunted_lobby(request, clock):
    table = dynamodb_table(request, request.param)
    store = DynamoDBConnectionStore(table.client, table.name, clock)
    notifier = FakeNotifier()
    log = DynamoDBRoomLog(table.client, table.name, clock)
    service = ChatService(store, notifier, clock, log=log)
    for connection_id in (ALICE, GHOST):
        service.connect(connection_id, UserId(connection_id.value.removeprefix("conn-")))
        service.join(connection_id, LOBBY)
    table.client.delete_item(
        TableName=table.name, Key={"pk": {"S": "CONN#conn-ghost"}, "sk": {"S": "CONNECTION"}}
    )
    notifier.mark_gone(GHOST)
    return service, store


class TestOrphanedMembership:
    def test_the_orphan_is_still_listed_until_a_send_finds_it_gone(self, haunted_lobby):
        service, store = haunted_lobby
        assert {m.connection_id for m in store.members(LOBBY)} == {ALICE, GHOST}
        service.send(ALICE, LOBBY, "anyone?")
        assert [m.connection_id for m in store.members(LOBBY)] == [ALICE]
