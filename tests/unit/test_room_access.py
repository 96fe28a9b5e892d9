"""Room access through the chat service: in `token` mode a connection reaches exactly the
rooms its identity grants, checked on $connect and kept; in `open` mode, every room."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from roomcast.adapters.fake_verifier import FakeTokenVerifier
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.domain.access import RoomAccess, parse_grant
from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import NO_CLAIM, NO_GRANT, ConnectionId, RoomId, UserId
from roomcast.domain.policies import Limits
from roomcast.domain.results import Reply
from roomcast.domain.service import ChatService

NOW = 1_700_000_000_000
NOT_ALLOWED = (403, "Not allowed in this room")
ALICE_ROOMS = {"team-a": ["join", "send"], "news-*": ["join"]}


class Rooms:
    """Users with tokens, over one service: `connect("alice", rooms)` issues and connects."""

    def __init__(self, service: ChatService, verifier: FakeTokenVerifier, notifier: Any) -> None:
        self.service, self.verifier, self.notifier = service, verifier, notifier

    def connect(self, user: str, rooms: Any = NO_CLAIM, **options: Any) -> ConnectionId:
        connection_id = ConnectionId(f"conn-{user}")
        token = self.verifier.issue(f"token-of-{user}", user, rooms)
        self.service.connect(connection_id, UserId(user), token=token, **options)
        return connection_id

    def say(self, connection_id: ConnectionId, **frame: Any) -> Reply:
        return self.service.handle(connection_id, json.dumps(frame))

    def join(self, connection_id: ConnectionId, room: str, **extra: Any) -> Reply:
        return self.say(connection_id, action="joinRoom", roomId=room, **extra)

    def send(self, connection_id: ConnectionId, room: str, text: str, **extra: Any) -> Reply:
        return self.say(connection_id, action="sendMessage", roomId=room, message=text, **extra)

    def frames(self, connection_id: ConnectionId) -> list[dict[str, Any]]:
        return self.notifier.frames_for(connection_id)

    def actions(self, connection_id: ConnectionId) -> list[str]:
        return self.notifier.actions_for(connection_id)


@pytest.fixture
def rooms_with(memory_store, fake_notifier, clock, room_log) -> Callable[..., Rooms]:
    """Rooms over the unit tests' store and the log it reads seqs from."""

    def make(access: RoomAccess, limits: Limits | None = None) -> Rooms:
        verifier = FakeTokenVerifier()
        service = ChatService(
            memory_store, fake_notifier, clock, limits, verifier, log=room_log, access=access
        )
        return Rooms(service, verifier, fake_notifier)

    return make


@pytest.fixture
def rooms(rooms_with) -> Rooms:
    return rooms_with(RoomAccess.TOKEN)


def refused(chat: Rooms, connection_id: ConnectionId, reply: Reply) -> bool:
    """Refused as NotAllowed, told so in one error frame, and nothing else."""
    assert (reply.status_code, reply.body) == NOT_ALLOWED
    assert chat.frames(connection_id)[-1] == {
        "action": "error", "message": "Not allowed in this room", "timestamp": NOW}
    return True


class TestJoining:
    def test_a_granted_room_is_joined(self, rooms):
        alice = rooms.connect("alice", ALICE_ROOMS)
        for room in ("team-a", "news-today"):
            reply = rooms.join(alice, room)
            assert reply.status_code == 200
            assert rooms.frames(alice)[-1]["action"] == "joinedRoom"

    def test_a_room_outside_the_grant_is_refused_and_nothing_is_stored(
        self, rooms, memory_store
    ):
        alice = rooms.connect("alice", ALICE_ROOMS)
        for room in ("team-b", "news", "general"):
            assert refused(rooms, alice, rooms.join(alice, room))
            assert memory_store.members(RoomId(room)) == []
        assert memory_store.get(alice).rooms == {}
        assert memory_store.get(alice).unannounced == frozenset()

    def test_the_room_hears_nothing_of_a_refused_join(self, rooms):
        bob = rooms.connect("bob", {"*": ["join", "send"]})
        rooms.join(bob, "vault")
        seen = len(rooms.frames(bob))
        mallory = rooms.connect("mallory", {"lobby": ["join"]})
        rooms.join(mallory, "vault")
        assert len(rooms.frames(bob)) == seen

    def test_after_a_refusal_the_connection_keeps_working(self, rooms):
        alice = rooms.connect("alice", ALICE_ROOMS)
        rooms.join(alice, "vault")
        assert rooms.say(alice, action="ping").status_code == 200
        assert rooms.join(alice, "team-a").status_code == 200
        assert rooms.send(alice, "team-a", "hi").status_code == 200
        assert rooms.actions(alice)[-1] == "message"

    def test_a_refused_join_leaves_no_room_it_was_in(self, rooms_with, memory_store):
        """At the room limit a join leaves the oldest room: not when the join is refused."""
        chat = rooms_with(RoomAccess.TOKEN, Limits(1))
        alice = chat.connect("alice", ALICE_ROOMS)
        chat.join(alice, "team-a")
        assert refused(chat, alice, chat.join(alice, "vault"))
        assert set(memory_store.get(alice).rooms) == {RoomId("team-a")}
        assert "leftRoom" not in chat.actions(alice)

    def test_a_join_with_since_replays_only_rooms_granted_join(self, rooms):
        owner = rooms.connect("owner", {"*": ["join", "send"]})
        rooms.join(owner, "vault")
        rooms.send(owner, "vault", "the code is 1234")
        mallory = rooms.connect("mallory", {"news-*": ["join"]})
        assert refused(rooms, mallory, rooms.join(mallory, "vault", since=0))
        assert rooms.actions(mallory) == ["error"]
        reader = rooms.connect("reader", {"vault": ["join"]})
        rooms.join(reader, "vault", since=0)
        assert rooms.actions(reader) == ["joinedRoom", "message"]

    def test_entries_add_up_through_the_service(self, rooms):
        carol = rooms.connect("carol", {"*": ["join"], "team-*": ["send"]})
        rooms.join(carol, "lobby")
        assert refused(rooms, carol, rooms.send(carol, "lobby", "hi"))
        rooms.join(carol, "team-x")
        assert rooms.send(carol, "team-x", "hi").status_code == 200


class TestSending:
    def test_a_room_granted_without_send_refuses_the_message(self, rooms):
        bob = rooms.connect("bob", {"*": ["join", "send"]})
        alice = rooms.connect("alice", ALICE_ROOMS)
        rooms.join(bob, "news-today")
        rooms.join(alice, "news-today")
        seen = len(rooms.frames(bob))
        assert refused(rooms, alice, rooms.send(alice, "news-today", "let me speak"))
        assert len(rooms.frames(bob)) == seen
        assert rooms.service.log.latest(RoomId("news-today")) == 0

    def test_a_room_granted_send_delivers_to_every_member(self, rooms):
        alice = rooms.connect("alice", ALICE_ROOMS)
        bob = rooms.connect("bob", {"team-a": ["join"]})
        rooms.join(alice, "team-a")
        rooms.join(bob, "team-a")
        assert rooms.send(alice, "team-a", "hello").status_code == 200
        assert rooms.frames(bob)[-1]["message"] == "hello"

    def test_a_room_not_joined_is_still_not_in_room(self, rooms):
        alice = rooms.connect("alice", ALICE_ROOMS)
        reply = rooms.send(alice, "vault", "hi")
        assert (reply.status_code, reply.body) == (400, "Not in room")


class TestWhatGrantsNothing:
    def test_a_token_without_the_claim_reaches_no_room(self, rooms, memory_store):
        alice = rooms.connect("alice")
        assert memory_store.get(alice).grant == NO_GRANT
        for room in ("general", "team-a", "a"):
            assert refused(rooms, alice, rooms.join(alice, room))

    def test_a_frame_carrying_its_own_rooms_or_user_grants_nothing(self, rooms, memory_store):
        mallory = rooms.connect("mallory", {"lobby": ["join"]})
        reply = rooms.join(mallory, "vault", rooms={"*": ["join", "send"]}, userId="admin",
                           grant={"*": ["join", "send"]})
        assert refused(rooms, mallory, reply)
        rooms.join(mallory, "lobby", rooms={"lobby": ["join", "send"]}, userId="admin")
        reply = rooms.send(mallory, "lobby", "hi", rooms={"*": ["send"]}, userId="admin")
        assert refused(rooms, mallory, reply)
        assert memory_store.get(mallory).user_id == UserId("mallory")

    def test_a_claimed_user_without_a_verifier_reaches_no_room(
        self, memory_store, fake_notifier, clock
    ):
        service = ChatService(
            memory_store, fake_notifier, clock, log=InMemoryRoomLog(clock),
            access=RoomAccess.TOKEN,
        )
        service.connect(ConnectionId("c1"), UserId("eve"))
        reply = service.handle(ConnectionId("c1"), '{"action":"joinRoom","roomId":"general"}')
        assert (reply.status_code, reply.body) == NOT_ALLOWED

    @pytest.mark.parametrize(
        "claim",
        [None, "team-a", ["team-a"], {"team a": ["join"]}, {"team-a": ["admin"]},
         {"team-a": "join"}, {"**": ["join"]}],
        ids=["null", "string", "list", "bad pattern", "unknown permission", "not a list",
             "two stars"],
    )
    @pytest.mark.parametrize("access", list(RoomAccess), ids=lambda a: a.value)
    def test_a_malformed_claim_makes_the_token_invalid_and_stores_nothing(
        self, rooms_with, memory_store, claim, access
    ):
        """In `open` mode too: a token is valid or not whatever mode reads it."""
        chat = rooms_with(access)
        with pytest.raises(Unauthorized, match="rooms"):
            chat.connect("alice", claim)
        assert memory_store.get(ConnectionId("conn-alice")) is None


class TestAuthorizerContext:
    def test_the_authorizers_rooms_are_the_grant(self, rooms, memory_store):
        grant = parse_grant(ALICE_ROOMS)
        rooms.service.connect(
            ConnectionId("c1"), UserId("mallory"),
            authorized_user_id=UserId("alice"), authorized_rooms=grant.as_json(),
        )
        assert memory_store.get(ConnectionId("c1")).grant == grant
        assert rooms.join(ConnectionId("c1"), "team-a").status_code == 200
        assert refused(rooms, ConnectionId("c1"), rooms.join(ConnectionId("c1"), "vault"))

    def test_an_authorizer_without_rooms_grants_none(self, rooms):
        rooms.service.connect(ConnectionId("c1"), authorized_user_id=UserId("alice"))
        assert refused(rooms, ConnectionId("c1"), rooms.join(ConnectionId("c1"), "team-a"))

    @pytest.mark.parametrize(
        "context", ['{"team-a": "join"}', "{", '"*"', {"*": ["join"]}, 7],
        ids=["bad claim", "bad JSON", "JSON string", "not a string", "number"],
    )
    def test_an_authorizer_context_that_is_no_grant_is_unauthorized(
        self, rooms, memory_store, context
    ):
        with pytest.raises(Unauthorized):
            rooms.service.connect(
                ConnectionId("c1"), authorized_user_id=UserId("alice"), authorized_rooms=context
            )
        assert memory_store.get(ConnectionId("c1")) is None


class TestOpenAccess:
    @pytest.fixture
    def open_rooms(self, rooms_with) -> Rooms:
        return rooms_with(RoomAccess.OPEN)

    def test_every_connection_joins_and_sends_anywhere_whatever_its_grant(self, open_rooms):
        alice = open_rooms.connect("alice", {"team-a": ["join"]})
        bob = open_rooms.connect("bob")
        for user in (alice, bob):
            assert open_rooms.join(user, "general").status_code == 200
        assert open_rooms.send(alice, "general", "hi").status_code == 200
        assert open_rooms.frames(bob)[-1]["message"] == "hi"

    def test_the_grant_is_not_kept(self, open_rooms, memory_store):
        alice = open_rooms.connect("alice", {"team-a": ["join", "send"]})
        open_rooms.join(alice, "team-a")
        assert memory_store.get(alice).grant == NO_GRANT
        assert memory_store.members(RoomId("team-a"))[0].permissions == frozenset()
