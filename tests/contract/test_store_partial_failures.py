"""Nothing lost under partial failure: a write that committed is confirmed and announced.

Every store runs these through FlakyStore (the answer lost with no retry below the
service, a member read failing after the commit). The half only the DynamoDB stores can
have, botocore retrying a TransactWriteItems that already committed, is
tests/adapters/test_dynamodb_retried_transactions.py.
"""

from __future__ import annotations

import pytest

from roomcast.domain.model import UserId
from tests.support.faults import FlakyStore
from tests.support.room_of_three import ALICE, BOB, CAROL, GAMES, LOBBY, Room


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
