"""Exactly how many DynamoDB requests each use case costs, driven through the chat service."""

from __future__ import annotations

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_history import DynamoDBRoomLog
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.fake_verifier import FakeTokenVerifier
from roomcast.domain.access import RoomAccess
from roomcast.domain.history import Retention
from roomcast.domain.model import ConnectionId, Message, RoomId, UserId
from roomcast.domain.policies import Limits
from roomcast.domain.service import ChatService
from tests.adapters.dynamodb_helpers import RequestLog
from tests.support.dynamodb_tables import DYNAMODB_BACKENDS, dynamodb_table

ALICE, BOB = ConnectionId("conn-alice"), ConnectionId("conn-bob")
LOBBY, GAMES = RoomId("lobby"), RoomId("games")


class World:
    def __init__(self, request: pytest.FixtureRequest, clock: FixedClock) -> None:
        table = dynamodb_table(request, request.param)
        self.notifier = FakeNotifier()
        store = DynamoDBConnectionStore(table.client, table.name, clock)
        self.table = table
        self.clock = clock
        log = DynamoDBRoomLog(table.client, table.name, clock)
        self.service = ChatService(store, self.notifier, clock, log=log)
        self.log = RequestLog(table.client)

    def another_process(self) -> ChatService:
        """A second execution environment on the same table: its own store and log."""
        table = self.table
        store = DynamoDBConnectionStore(table.client, table.name, self.clock)
        log = DynamoDBRoomLog(table.client, table.name, self.clock)
        return ChatService(store, self.notifier, self.clock, log=log)

    def keeping(self, retention: Retention) -> World:
        table = self.table
        self.service.log = DynamoDBRoomLog(table.client, table.name, self.clock, retention)
        return self

    def with_limits(self, limits: Limits) -> World:
        self.service.limits = limits
        return self

    def connected(self, *connection_ids: ConnectionId) -> World:
        for connection_id in connection_ids:
            self.service.connect(connection_id, UserId(connection_id.value.removeprefix("conn-")))
        self.log.clear()
        return self

    def in_lobby(self, *connection_ids: ConnectionId) -> World:
        self.connected(*connection_ids)
        for connection_id in connection_ids:
            self.service.join(connection_id, LOBBY)
        self.log.clear()
        return self


@pytest.fixture(params=DYNAMODB_BACKENDS)
def world(request: pytest.FixtureRequest, clock: FixedClock) -> World:
    return World(request, clock)


class TestLifecycle:
    def test_connect_is_one_put(self, world):
        world.service.connect(ALICE)
        assert world.log.operations == ["PutItem"]

    def test_disconnect_with_one_room_is_delete_transaction_query_and_the_claim(self, world):
        """The conditional delete hands back a connection in rooms; one transaction removes
        it with its departures; the room's read finds them, and the claim takes them."""
        world.in_lobby(ALICE, BOB)
        world.service.disconnect(ALICE)
        assert world.log.operations == ["DeleteItem", "TransactWriteItems", "Query", "UpdateItem"]
        assert world.notifier.actions_for(BOB)[-1] == "userLeft"

    def test_disconnect_without_rooms_is_one_delete(self, world):
        world.connected(ALICE)
        world.service.disconnect(ALICE)
        assert world.log.operations == ["DeleteItem"]

    def test_a_sweep_of_an_empty_table_scans_for_connections_and_departures(self, world):
        assert world.service.sweep_stale().as_dict() == {"checked": 0, "removed": 0}
        assert world.log.operations == ["Scan", "Scan"]


class TestRooms:
    def test_join_is_get_transact_write_query_and_the_announced_mark(self, world):
        world.in_lobby(BOB).connected(ALICE)
        world.service.join(ALICE, LOBBY)
        assert world.log.operations == ["GetItem", "TransactWriteItems", "Query", "UpdateItem"]
        assert world.notifier.actions_for(ALICE) == ["joinedRoom"]
        assert world.notifier.actions_for(BOB)[-1] == "userJoined"

    def test_a_room_size_limit_costs_a_read_of_the_head_before_the_write(self, world):
        world.with_limits(Limits(max_members_per_room=10)).in_lobby(BOB).connected(ALICE)
        world.service.join(ALICE, LOBBY)
        assert world.log.operations == [
            "GetItem", "GetItem", "TransactWriteItems", "Query", "UpdateItem"
        ]

    def test_rejoining_a_room_is_two_gets(self, world):
        world.in_lobby(ALICE)
        world.service.join(ALICE, LOBBY)
        assert world.log.operations == ["GetItem", "GetItem"]

    def test_join_that_evicts_a_room_adds_one_query_for_the_room_left(self, world):
        world.in_lobby(ALICE)
        world.service.join(ALICE, GAMES)
        assert world.log.operations == [
            "GetItem", "TransactWriteItems", "Query", "Query", "UpdateItem"
        ]

    def test_a_steady_send_reads_the_head_and_writes_one_transaction_whatever_the_size(
        self, world
    ):
        world.in_lobby(ALICE, BOB)
        world.service.send(ALICE, LOBBY, "hello")
        assert world.log.operations == ["GetItem", "TransactWriteItems"]
        assert world.notifier.frames_for(BOB)[-1]["seq"] == 1

    def test_a_send_in_a_process_that_never_read_the_room_queries_it_once(self, world):
        world.in_lobby(ALICE, BOB)
        elsewhere = world.another_process()
        elsewhere.send(ALICE, LOBBY, "hello")
        elsewhere.send(ALICE, LOBBY, "again")
        assert world.log.operations == ["Query", "TransactWriteItems", "GetItem",
                                        "TransactWriteItems"]

    def test_a_send_right_after_a_join_elsewhere_reads_the_members_again(self, world):
        world.in_lobby(ALICE)
        world.service.send(ALICE, LOBBY, "warm")
        world.connected(BOB)
        world.another_process().join(BOB, LOBBY)
        world.log.clear()
        world.service.send(ALICE, LOBBY, "hello")
        assert world.log.operations == ["GetItem", "Query", "TransactWriteItems"]
        assert world.notifier.frames_for(BOB)[-1]["message"] == "hello"

    def test_with_retention_off_a_steady_send_reads_the_head_and_updates_it(self, world):
        world.keeping(Retention(messages=0)).in_lobby(ALICE, BOB)
        world.service.send(ALICE, LOBBY, "hello")
        assert world.log.operations == ["GetItem", "UpdateItem"]
        assert world.notifier.frames_for(BOB)[-1]["seq"] == 1

    def test_a_send_that_lost_the_race_for_its_seq_costs_one_transaction_more(self, world):
        world.in_lobby(ALICE, BOB)
        world.service.send(ALICE, LOBBY, "first")
        stale = world.service.store.room(LOBBY)
        world.service.send(BOB, LOBBY, "second")
        world.log.clear()
        said = Message(LOBBY, "third", UserId("alice"), world.clock.now_ms())
        assert world.service.log.append(said, after=stale.seq).seq == 3
        assert world.log.operations == ["TransactWriteItems", "TransactWriteItems"]

    def test_a_join_with_since_adds_one_query_of_the_log(self, world):
        world.in_lobby(ALICE)
        world.service.send(ALICE, LOBBY, "hello")
        world.connected(BOB)
        world.service.join(BOB, LOBBY, since=0)
        assert world.log.operations == [
            "GetItem", "TransactWriteItems", "Query", "Query", "UpdateItem"
        ]
        assert world.notifier.actions_for(BOB) == ["joinedRoom", "message"]

    def test_leave_is_a_read_of_the_head_a_transaction_and_the_claim(self, world):
        world.in_lobby(ALICE, BOB)
        world.service.leave(ALICE, LOBBY)
        assert world.log.operations == ["GetItem", "TransactWriteItems", "UpdateItem"]
        assert world.notifier.actions_for(BOB)[-1] == "userLeft"

    def test_a_send_that_finds_a_departure_reads_the_members_and_claims_it(self, world):
        world.in_lobby(ALICE, BOB)
        world.service.send(ALICE, LOBBY, "warm")
        world.another_process().store.remove(BOB)  # a disconnect that announced nothing
        world.log.clear()
        world.service.send(ALICE, LOBBY, "hello")
        assert world.log.operations == ["GetItem", "Query", "UpdateItem", "TransactWriteItems"]
        assert world.notifier.actions_for(ALICE)[-2:] == ["userLeft", "message"]


class TestRoomAccess:
    """With `token` access the grant rides on reads the use cases make anyway."""

    def granted(self, world: World, rooms: dict[str, list[str]], *ids: ConnectionId) -> World:
        verifier = FakeTokenVerifier()
        world.service.verifier, world.service.access = verifier, RoomAccess.TOKEN
        for connection_id in ids:
            token = verifier.issue(f"token-{connection_id.value}", connection_id.value, rooms)
            world.service.connect(connection_id, token=token)
        world.log.clear()
        return world

    def test_connect_with_a_grant_is_still_one_put(self, world):
        self.granted(world, {"lobby": ["join"]})
        world.service.connect(ALICE, token=world.service.verifier.issue("t", "alice", {}))
        assert world.log.operations == ["PutItem"]

    def test_a_granted_join_costs_what_an_open_one_does(self, world):
        self.granted(world, {"*": ["join", "send"]}, ALICE, BOB)
        world.service.join(BOB, LOBBY)
        world.log.clear()
        world.service.join(ALICE, LOBBY)
        assert world.log.operations == ["GetItem", "TransactWriteItems", "Query", "UpdateItem"]

    def test_a_granted_send_costs_what_an_open_one_does(self, world):
        self.granted(world, {"*": ["join", "send"]}, ALICE, BOB)
        for connection_id in (ALICE, BOB):
            world.service.join(connection_id, LOBBY)
        world.log.clear()
        world.service.send(ALICE, LOBBY, "hello")
        assert world.log.operations == ["GetItem", "TransactWriteItems"]  # a steady send's

    def test_a_refused_join_is_one_read_and_writes_nothing(self, world):
        self.granted(world, {"games": ["join"]}, ALICE)
        reply = world.service.handle(ALICE, '{"action":"joinRoom","roomId":"lobby"}')
        assert (reply.status_code, world.log.operations) == (403, ["GetItem"])

    def test_a_refused_send_is_one_read_and_writes_nothing(self, world):
        self.granted(world, {"lobby": ["join"]}, ALICE)
        world.service.join(ALICE, LOBBY)
        world.log.clear()
        reply = world.service.handle(
            ALICE, '{"action":"sendMessage","roomId":"lobby","message":"hi"}')
        assert (reply.status_code, world.log.operations) == (403, ["GetItem"])
