"""Nothing lost under partial failure: a write that committed is confirmed and announced.

Every store runs these through FlakyStore (the answer lost with no retry below the
service, a member read or a read-back failing after the commit). The half only the
DynamoDB stores can have, botocore retrying a TransactWriteItems that already committed, is
tests/adapters/test_dynamodb_retried_transactions.py.
"""

from __future__ import annotations

import pytest

from roomcast.domain.model import ConnectionId, UserId
from tests.support.faults import FlakyStore, StoreFailure
from tests.support.room_of_three import ALICE, BOB, CAROL, GAMES, LOBBY, Room

ALICE_AGAIN = ConnectionId("conn-alice-2")


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


@pytest.fixture
def lobby_of_three(room) -> Room:
    """Alice, Bob and Carol in the lobby, nothing heard yet."""
    room.say(ALICE, "joinRoom", LOBBY)
    room.say(CAROL, "joinRoom", LOBBY)
    room.notifier.clear()
    return room


def nothing_pending(room: Room) -> bool:
    return room.store.room(LOBBY).departures == () and list(room.store.departed_rooms()) == []


class TestDeparturesAreDurable:
    def test_a_disconnect_announces_once_and_leaves_nothing_pending(self, lobby_of_three):
        room = lobby_of_three
        room.service.disconnect(ALICE)
        assert room.heard(BOB, "userLeft") == room.heard(CAROL, "userLeft") == ["alice"]
        assert nothing_pending(room)
        room.service.send(BOB, LOBBY, "still here?")
        room.service.sweep_stale()
        assert room.heard(BOB, "userLeft") == ["alice"]

    def test_a_leave_announces_once_and_leaves_nothing_pending(self, lobby_of_three):
        room = lobby_of_three
        assert room.say(ALICE, "leaveRoom", LOBBY) == 200
        assert room.heard(BOB, "userLeft") == ["alice"]
        assert nothing_pending(room)
        room.service.send(BOB, LOBBY, "still here?")
        assert room.heard(BOB, "userLeft") == ["alice"]


class TestRemovedThenTheMemberReadFailed:
    @pytest.fixture
    def unheard(self, lobby_of_three, flaky) -> Room:
        room = lobby_of_three
        flaky.fail_a_member_read()
        with pytest.raises(StoreFailure):
            room.service.disconnect(ALICE)
        assert room.heard(BOB, "userLeft") == []
        assert room.store.get(ALICE) is None
        return room

    def test_the_next_send_into_the_room_tells_it_once(self, unheard):
        unheard.service.send(BOB, LOBBY, "where did alice go?")
        assert unheard.heard(BOB, "userLeft") == unheard.heard(CAROL, "userLeft") == ["alice"]
        assert unheard.actions(CAROL)[-2:] == ["userLeft", "message"]
        unheard.service.send(CAROL, LOBBY, "gone")
        unheard.service.sweep_stale()
        assert unheard.heard(BOB, "userLeft") == ["alice"]
        assert nothing_pending(unheard)

    def test_the_cleanup_job_tells_it_once(self, unheard):
        assert unheard.service.sweep_stale().as_dict() == {"checked": 2, "removed": 0}
        assert unheard.heard(BOB, "userLeft") == unheard.heard(CAROL, "userLeft") == ["alice"]
        unheard.service.sweep_stale()
        unheard.service.send(BOB, LOBBY, "gone")
        assert unheard.heard(BOB, "userLeft") == ["alice"]
        assert nothing_pending(unheard)

    def test_the_next_join_tells_the_members_but_not_the_joiner(self, unheard):
        unheard.service.connect(ALICE_AGAIN, UserId("alice"))
        assert unheard.say(ALICE_AGAIN, "joinRoom", LOBBY) == 200
        assert unheard.heard(BOB, "userLeft") == ["alice"]
        assert unheard.actions(ALICE_AGAIN) == ["joinedRoom"]
        assert unheard.actions(BOB)[-2:] == ["userLeft", "userJoined"]


class TestLeftThenEveryReadBackFailed:
    def test_the_room_hears_it_from_its_next_reader_once(self, lobby_of_three, flaky):
        room = lobby_of_three
        flaky.lose_next_answer("leave")
        flaky.fail_a_connection_read()
        assert room.say(ALICE, "leaveRoom", LOBBY) == 500
        assert room.heard(BOB, "userLeft") == []
        assert [m.user_id.value for m in room.store.members(LOBBY)] == ["bob", "carol"]
        room.service.send(BOB, LOBBY, "alice?")
        assert room.heard(BOB, "userLeft") == room.heard(CAROL, "userLeft") == ["alice"]
        room.service.sweep_stale()
        assert room.heard(BOB, "userLeft") == ["alice"]
        assert nothing_pending(room)
