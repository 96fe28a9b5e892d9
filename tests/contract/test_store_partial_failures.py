"""Nothing lost under partial failure: a write that committed is confirmed and announced.

Every store runs the service-level half through FlakyStore (the answer lost with no retry
below the service, a member read failing after the commit). The DynamoDB stores also run
the half only they can have: botocore retrying a TransactWriteItems that already committed.
"""

from __future__ import annotations

import json

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.domain.model import ConnectionId, RoomId, UserId
from roomcast.domain.policies import Limits
from roomcast.domain.service import ChatService
from tests.support.dynamodb_tables import DYNAMODB_BACKENDS, dynamodb_table
from tests.support.faults import COMMITTED_THEN, FlakyStore, LostAnswers

ALICE, BOB, CAROL = ConnectionId("conn-alice"), ConnectionId("conn-bob"), ConnectionId("conn-carol")
LOBBY, GAMES = RoomId("lobby"), RoomId("games")


class Room:
    """Alice, Bob and Carol on one service; frames they receive, replies Alice gets."""

    def __init__(self, store, clock: FixedClock) -> None:
        self.store = store
        self.notifier = FakeNotifier()
        self.service = ChatService(store, self.notifier, clock, Limits())
        for connection_id in (ALICE, BOB, CAROL):
            self.service.connect(connection_id, UserId(connection_id.value.removeprefix("conn-")))

    def say(self, connection_id: ConnectionId, action: str, room: RoomId) -> int:
        frame = json.dumps({"action": action, "roomId": room.value})
        return self.service.handle(connection_id, frame).status_code

    def actions(self, connection_id: ConnectionId) -> list[str]:
        return self.notifier.actions_for(connection_id)

    def heard(self, connection_id: ConnectionId, action: str) -> list[str]:
        frames = self.notifier.frames_for(connection_id)
        return [f["userId"] for f in frames if f["action"] == action]


@pytest.fixture
def flaky(store) -> FlakyStore:
    return FlakyStore(store)


@pytest.fixture
def room(flaky, clock) -> Room:
    room = Room(flaky, clock)
    assert room.say(BOB, "joinRoom", LOBBY) == 200
    room.notifier.clear()
    return room


class TestCommittedThenTheAnswerWasLost:
    def test_the_join_is_confirmed_and_announced_once(self, room, flaky):
        flaky.lose_next_answer("join")
        assert room.say(ALICE, "joinRoom", LOBBY) == 200
        assert sorted(room.notifier.frames_for(ALICE)[-1]["members"]) == ["alice", "bob"]
        assert room.heard(BOB, "userJoined") == ["alice"]

    def test_the_leave_is_confirmed_and_announced_once(self, room, flaky):
        room.say(ALICE, "joinRoom", LOBBY)
        flaky.lose_next_answer("leave")
        assert room.say(ALICE, "leaveRoom", LOBBY) == 200
        assert room.actions(ALICE)[-1] == "leftRoom"
        assert room.heard(BOB, "userLeft") == ["alice"]
        assert room.store.members(LOBBY)[0].user_id == UserId("bob")

    def test_the_room_a_lost_join_evicted_still_hears_the_departure(self, room, flaky):
        room.say(CAROL, "joinRoom", GAMES)
        room.say(ALICE, "joinRoom", GAMES)
        flaky.lose_next_answer("join")
        assert room.say(ALICE, "joinRoom", LOBBY) == 200
        assert room.heard(CAROL, "userLeft") == ["alice"]
        assert room.actions(ALICE)[-2:] == ["leftRoom", "joinedRoom"]


class TestCommittedThenTheMemberReadFailed:
    def test_the_client_retrying_gets_joined_room_and_the_room_hears_it_once(self, room, flaky):
        flaky.fail_a_member_read()
        assert room.say(ALICE, "joinRoom", LOBBY) == 500
        assert room.heard(BOB, "userJoined") == []
        assert room.say(ALICE, "joinRoom", LOBBY) == 200
        assert sorted(room.notifier.frames_for(ALICE)[-1]["members"]) == ["alice", "bob"]
        assert room.heard(BOB, "userJoined") == ["alice"]

    @pytest.mark.parametrize("reads_before", [0, 1], ids=["joined room", "evicted room"])
    def test_a_join_that_evicted_is_announced_in_both_rooms_once_on_retry(
        self, room, flaky, reads_before
    ):
        room.say(CAROL, "joinRoom", GAMES)
        room.say(ALICE, "joinRoom", GAMES)
        room.notifier.clear()
        flaky.fail_a_member_read(after=reads_before)
        assert room.say(ALICE, "joinRoom", LOBBY) == 500
        assert room.say(ALICE, "joinRoom", LOBBY) == 200
        assert room.heard(CAROL, "userLeft") == ["alice"]
        assert room.heard(BOB, "userJoined") == ["alice"]
        assert room.actions(ALICE) == ["error", "leftRoom", "joinedRoom"]

    def test_once_announced_a_rejoin_is_not_announced_again(self, room, flaky):
        flaky.fail_a_member_read()
        room.say(ALICE, "joinRoom", LOBBY)
        room.say(ALICE, "joinRoom", LOBBY)
        room.say(ALICE, "joinRoom", LOBBY)
        assert room.heard(BOB, "userJoined") == ["alice"]
        assert room.actions(ALICE) == ["error", "joinedRoom", "joinedRoom"]


class DynamoDBWorld:
    def __init__(self, request: pytest.FixtureRequest, clock: FixedClock, fault: str) -> None:
        table = dynamodb_table(request, request.param)
        self.lost = LostAnswers(table.client, "TransactWriteItems", fault)
        self.store = DynamoDBConnectionStore(table.client, table.name, clock)
        self.room = Room(self.store, clock)
        self.clock = clock


@pytest.fixture(params=COMMITTED_THEN)
def fault(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DYNAMODB_BACKENDS)
def dynamodb(request: pytest.FixtureRequest, clock: FixedClock, fault: str) -> DynamoDBWorld:
    return DynamoDBWorld(request, clock, fault)


class TestBotocoreRetriesACommittedTransaction:
    def test_a_retried_join_is_recognised_as_its_own_commit(self, dynamodb):
        before = dynamodb.store.get(ALICE)
        dynamodb.lost.lose(1)
        joined = dynamodb.store.join(before, LOBBY, dynamodb.clock.now_ms())
        assert dynamodb.lost.attempts == 2
        [token] = set(dynamodb.lost.tokens)  # what makes DynamoDB itself answer the retry
        assert token
        assert joined == dynamodb.store.get(ALICE)
        assert joined.version == before.version + 1

    def test_a_retried_leave_is_recognised_as_its_own_commit(self, dynamodb):
        dynamodb.store.join(dynamodb.store.get(ALICE), LOBBY, dynamodb.clock.now_ms())
        dynamodb.lost.lose(1)
        assert dynamodb.store.leave(ALICE, LOBBY) is True
        assert dynamodb.lost.attempts == 2
        [token] = set(dynamodb.lost.tokens)
        assert token
        assert dynamodb.store.members(LOBBY) == []

    def test_a_join_and_leave_are_confirmed_and_announced_once(self, dynamodb):
        room = dynamodb.room
        room.say(BOB, "joinRoom", LOBBY)
        dynamodb.lost.lose(1)
        assert room.say(ALICE, "joinRoom", LOBBY) == 200
        dynamodb.lost.lose(1)
        assert room.say(ALICE, "leaveRoom", LOBBY) == 200
        assert dynamodb.lost.attempts == 2
        assert room.actions(ALICE) == ["joinedRoom", "leftRoom"]
        assert room.heard(BOB, "userJoined") == room.heard(BOB, "userLeft") == ["alice"]
