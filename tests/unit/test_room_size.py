"""Room size: joinedRoom always fits in one PostToConnection, and a room may be capped."""

from __future__ import annotations

import json

import pytest

from roomcast.domain import frames
from roomcast.domain.errors import RoomFull
from roomcast.domain.history import MAX_HISTORY_MESSAGES, Replay
from roomcast.domain.model import Connection, ConnectionId, Membership, Message, RoomId, UserId
from roomcast.domain.policies import (
    DEFAULT_MAX_MEMBERS_IN_JOINED_ROOM,
    MAX_MEMBERS_IN_JOINED_ROOM,
    POST_TO_CONNECTION_LIMIT_BYTES,
    Limits,
    check_room_capacity,
    listed_members,
)
from roomcast.domain.service import ChatService
from tests.unit.chat import Chat

LONGEST_ROOM = RoomId("r" * 128)
# The longest ids the user-id rule allows, in every way of spending 128 bytes.
LONGEST_IDS = {
    "quotes": '"' * 128,
    "backslashes": "\\" * 128,
    "ascii": "a" * 128,
    "two-byte": "é" * 64,
    "three-byte": "山" * 42 + "ab",
    "four-byte": "🦊" * 32,
}


def membership(index: int, user: str = "user") -> Membership:
    return Membership(ConnectionId(f"c{index:05d}"), LONGEST_ROOM, UserId(user), index, 7200)


def worst_joined_room(members: list[UserId], joiner: UserId) -> frames.Frame:
    """The largest joinedRoom these members make: the longest joiner id, the largest seq,
    and a replay's fields."""
    said = [Message(LONGEST_ROOM, "x", joiner, 0, seq) for seq in range(MAX_HISTORY_MESSAGES)]
    replay = Replay(tuple(said), complete=False)
    return frames.joined_room(LONGEST_ROOM, members, 10**9, joiner, 10**19, "e" * 64, replay)


class TestJoinedRoomSize:
    @pytest.mark.parametrize("user", LONGEST_IDS.values(), ids=LONGEST_IDS.keys())
    def test_the_default_list_of_the_longest_ids_takes_at_most_half_the_limit(self, user):
        members = [UserId(user)] * DEFAULT_MAX_MEMBERS_IN_JOINED_ROOM
        frame = worst_joined_room(members, UserId(user))
        assert len(frame.encode()) <= POST_TO_CONNECTION_LIMIT_BYTES // 2

    @pytest.mark.parametrize("user", LONGEST_IDS.values(), ids=LONGEST_IDS.keys())
    def test_the_largest_allowed_list_still_fits(self, user):
        members = [UserId(user)] * MAX_MEMBERS_IN_JOINED_ROOM
        frame = worst_joined_room(members, UserId(user))
        assert len(frame.encode()) <= POST_TO_CONNECTION_LIMIT_BYTES

    def test_a_list_longer_than_the_largest_allowed_is_a_configuration_error(self):
        with pytest.raises(ValueError):
            Limits(max_members_in_joined_room=MAX_MEMBERS_IN_JOINED_ROOM + 1)


class TestListedMembers:
    def test_the_joiner_and_the_earliest_others_are_listed(self):
        members = [membership(i, f"u{i}") for i in range(10)]
        limits = Limits(max_members_in_joined_room=3)
        listed = listed_members(members, ConnectionId("c00007"), limits)
        assert listed == [UserId("u0"), UserId("u1"), UserId("u7")]

    def test_a_room_under_the_limit_is_listed_whole_in_join_order(self):
        members = [membership(i, f"u{i}") for i in range(3)]
        listed = listed_members(members, ConnectionId("c00002"), Limits())
        assert listed == [UserId("u0"), UserId("u1"), UserId("u2")]


class TestRoomCapacity:
    def test_no_limit_by_default(self):
        check_room_capacity(10**6, Limits())

    def test_a_room_at_its_limit_refuses_with_a_clear_message(self):
        with pytest.raises(RoomFull, match="Room is full: at most 2 members"):
            check_room_capacity(2, Limits(max_members_per_room=2))


@pytest.fixture
def capped(memory_store, fake_notifier, clock, room_log):
    limits = Limits(max_members_per_room=2, max_members_in_joined_room=3)
    service = ChatService(memory_store, fake_notifier, clock, limits, log=room_log)
    return Chat(service, fake_notifier)


def crowd(store, clock, room: RoomId, users: list[str]) -> None:
    """Members put straight into the store: nobody needs to hear of them."""
    expires = clock.now_ms() // 1000 + 7200
    for index, user in enumerate(users):
        connection = Connection(ConnectionId(f"c{index}"), UserId(user), 0, expires)
        store.add(connection)
        store.join(connection, room, index)


class TestJoiningALargeRoom:
    def test_joined_room_carries_the_count_and_at_most_the_configured_members(
        self, memory_store, fake_notifier, clock, room_log
    ):
        crowd(memory_store, clock, RoomId("big"), [f"u{i}" for i in range(5)])
        limits = Limits(max_members_in_joined_room=3)
        service = ChatService(memory_store, fake_notifier, clock, limits, log=room_log)
        chat = Chat(service, fake_notifier)
        alice = chat.connect("alice")
        chat.join(alice, "big")
        assert chat.last(alice) == {
            "action": "joinedRoom", "roomId": "big", "memberCount": 6,
            "members": ["u0", "u1", "alice"], "userId": "alice", "seq": 0,
            "epoch": room_log.epoch,
        }

    def test_a_thousand_members_with_the_longest_ids_still_get_a_joined_room_that_fits(
        self, chat, memory_store, clock
    ):
        users = [f"{index:04d}" + "x" * 124 for index in range(1100)]
        crowd(memory_store, clock, RoomId("big"), users)
        alice = chat.connect("alice")
        chat.join(alice, "big")
        frame = chat.last(alice)
        assert (frame["action"], frame["memberCount"]) == ("joinedRoom", 1101)
        assert len(json.dumps(frame, ensure_ascii=False).encode()) < POST_TO_CONNECTION_LIMIT_BYTES


class TestAFullRoom:
    def test_a_join_beyond_the_limit_is_refused_and_nobody_is_told(self, capped, memory_store):
        alice, bob, carol = capped.connect("alice"), capped.connect("bob"), capped.connect("carol")
        capped.join(alice, "lobby")
        capped.join(bob, "lobby")
        capped.forget_frames()
        reply = capped.join(carol, "lobby")
        assert (reply.status_code, reply.body) == (400, "Room is full: at most 2 members")
        assert capped.actions(carol) == ["error"]
        assert capped.frames(alice) == capped.frames(bob) == []
        assert len(memory_store.members(RoomId("lobby"))) == 2

    def test_a_member_of_a_full_room_may_rejoin(self, capped):
        alice, bob = capped.connect("alice"), capped.connect("bob")
        capped.join(alice, "lobby")
        capped.join(bob, "lobby")
        assert capped.join(alice, "lobby").status_code == 200
        assert capped.last(alice)["action"] == "joinedRoom"
