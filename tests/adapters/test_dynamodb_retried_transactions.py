"""Nothing lost when botocore retries a TransactWriteItems that already committed: the
DynamoDB store recognises its own commit, and the room hears of the join, leave and
removal once."""

from __future__ import annotations

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from tests.support.dynamodb_tables import DYNAMODB_BACKENDS, dynamodb_table
from tests.support.faults import COMMITTED_THEN, LostAnswers
from tests.support.room_of_three import ALICE, BOB, CAROL, LOBBY, Room


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

    def test_a_retried_removal_is_told_to_the_room_once_by_its_next_reader(self, dynamodb):
        """Its connection item is gone, so a retry evaluated again cannot tell its own commit
        from another's removal: it reports nothing removed, and the departure it wrote waits
        on the room's head (DynamoDB itself answers the retry by its request token)."""
        room = dynamodb.room
        for connection_id in (ALICE, BOB, CAROL):
            room.say(connection_id, "joinRoom", LOBBY)
        dynamodb.lost.lose(1)
        room.service.disconnect(ALICE)
        assert dynamodb.lost.attempts == 2
        assert dynamodb.store.get(ALICE) is None
        room.service.send(BOB, LOBBY, "alice?")
        room.service.sweep_stale()
        assert room.heard(BOB, "userLeft") == room.heard(CAROL, "userLeft") == ["alice"]
