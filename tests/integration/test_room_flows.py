"""Whole conversations through the Lambda handlers, on DynamoDB (moto) and on the memory store.

Frames are read from moto's Management API backend, exactly as PostToConnection delivered them.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

from roomcast.domain.model import ConnectionId, RoomId
from roomcast.entrypoints.containers import Container
from tests.integration.harness import Gateway, table_items

OK_JOIN = {"statusCode": 200, "body": "Joined room"}


def stored(container: Container, table: str, store_kind: str) -> dict[str, Any]:
    """Connection ids and room members as the configured store holds them."""
    if store_kind == "memory":
        store = container.store()
        connections = {c.id.value for c in store.connections()}
        rooms = {r: {m.connection_id.value for m in store.members(RoomId(r))} for r in ("lobby",)}
        return {"connections": connections, "rooms": {r: m for r, m in rooms.items() if m}}
    found: dict[str, Any] = {"connections": set(), "rooms": {}}
    for item in table_items(table):
        if item["sk"]["S"] == "CONNECTION":
            found["connections"].add(item["connectionId"]["S"])
        elif item["sk"]["S"].startswith("CONN#"):  # a membership (the room log has items too)
            found["rooms"].setdefault(item["roomId"]["S"], set()).add(item["connectionId"]["S"])
    return found


def untimed(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for frame in frames:
        assert "timestamp" not in frame or isinstance(frame["timestamp"], int)
    return [{k: v for k, v in frame.items() if k != "timestamp"} for frame in frames]


def say(room: str, text: str) -> dict[str, str]:
    return {"action": "sendMessage", "roomId": room, "message": text}


class TestARoomConversation:
    def test_connections_are_stored_with_their_users_and_nothing_is_posted(
        self, gateway: Gateway, deployed: Container, table: str, store_kind: str
    ) -> None:
        alice, bob = gateway.connect("alice"), gateway.connect("bob")
        assert stored(deployed, table, store_kind) == {"connections": {alice, bob}, "rooms": {}}
        assert deployed.store().get(ConnectionId(alice)).user_id.value == "alice"
        assert gateway.new_frames(alice) == gateway.new_frames(bob) == []

    def test_joiners_are_announced_and_told_the_members(self, gateway: Gateway) -> None:
        alice, bob = gateway.connect("alice"), gateway.connect("bob")
        assert gateway.join(alice, "lobby") == OK_JOIN
        assert gateway.join(bob, "lobby") == OK_JOIN
        assert untimed(gateway.new_frames(alice)) == [
            {"action": "joinedRoom", "roomId": "lobby", "memberCount": 1, "members": ["alice"],
             "userId": "alice", "seq": 0, "epoch": ANY},
            {"action": "userJoined", "roomId": "lobby", "userId": "bob"},
        ]
        assert untimed(gateway.new_frames(bob)) == [
            {"action": "joinedRoom", "roomId": "lobby", "memberCount": 2,
             "members": ["alice", "bob"], "userId": "bob", "seq": 0, "epoch": ANY},
        ]

    def test_a_message_reaches_every_member_sender_included_and_nobody_else(
        self, gateway: Gateway
    ) -> None:
        alice, bob, carol, outsider = (gateway.connect(u) for u in ("alice", "bob", "carol", "dan"))
        for member in (alice, bob, carol):
            gateway.join(member, "lobby")
        for member in (alice, bob, carol):
            gateway.new_frames(member)
        response = gateway.send(bob, say("lobby", "hello, room"))
        assert response == {"statusCode": 200, "body": "Message sent"}
        expected = {"action": "message", "roomId": "lobby", "message": "hello, room", "seq": 1}
        for member in (alice, bob, carol):
            assert untimed(gateway.new_frames(member)) == [expected | {"sender": "bob"}]
        assert gateway.new_frames(outsider) == []

    def test_the_whole_lifecycle_leaves_no_trace(
        self, gateway: Gateway, deployed: Container, table: str, store_kind: str
    ) -> None:
        alice, bob, carol = (gateway.connect(u) for u in ("alice", "bob", "carol"))
        for member in (alice, bob, carol):
            gateway.join(member, "lobby")
        assert stored(deployed, table, store_kind)["rooms"] == {"lobby": {alice, bob, carol}}
        for member in (alice, bob, carol):
            gateway.new_frames(member)

        leave = gateway.send(carol, {"action": "leaveRoom", "roomId": "lobby"})
        assert leave == {"statusCode": 200, "body": "Left room"}
        assert untimed(gateway.new_frames(carol)) == [{"action": "leftRoom", "roomId": "lobby"}]
        left = {"action": "userLeft", "roomId": "lobby", "userId": "carol"}
        assert untimed(gateway.new_frames(alice)) == untimed(gateway.new_frames(bob)) == [left]

        assert gateway.disconnect(bob) == {"statusCode": 200, "body": "Disconnected"}
        assert untimed(gateway.new_frames(alice)) == [left | {"userId": "bob"}]
        assert stored(deployed, table, store_kind) == {
            "connections": {alice, carol},
            "rooms": {"lobby": {alice}},
        }
        for connection in (alice, carol):
            gateway.disconnect(connection)
        assert stored(deployed, table, store_kind) == {"connections": set(), "rooms": {}}

    def test_joining_a_second_room_leaves_the_first_and_tells_its_members(
        self, gateway: Gateway
    ) -> None:
        alice, bob = gateway.connect("alice"), gateway.connect("bob")
        gateway.join(alice, "lobby")
        gateway.join(bob, "lobby")
        gateway.new_frames(alice)
        gateway.new_frames(bob)
        gateway.join(bob, "games")
        assert untimed(gateway.new_frames(alice)) == [
            {"action": "userLeft", "roomId": "lobby", "userId": "bob"}
        ]
        assert [f["action"] for f in gateway.new_frames(bob)] == ["leftRoom", "joinedRoom"]

    def test_ping_answers_pong_to_the_sender_only(self, gateway: Gateway) -> None:
        alice, bob = gateway.connect("alice"), gateway.connect("bob")
        assert gateway.send(alice, {"action": "ping"}) == {"statusCode": 200, "body": "Pong"}
        [pong] = gateway.new_frames(alice)
        assert pong["action"] == "pong" and isinstance(pong["timestamp"], int)
        assert gateway.new_frames(bob) == []


class TestAnonymousConnections:
    def test_a_connection_without_a_query_string_is_anonymous(self, gateway: Gateway) -> None:
        anonymous = gateway.connect()
        gateway.join(anonymous, "lobby")
        [joined] = gateway.new_frames(anonymous)
        assert joined["members"] == ["anonymous"]


class TestAConversationOutlivesAConnection:
    def test_a_member_back_on_a_new_connection_gets_what_it_missed_in_order(
        self, gateway: Gateway
    ) -> None:
        alice, bob = gateway.connect("alice"), gateway.connect("bob")
        gateway.join(alice, "lobby")
        gateway.join(bob, "lobby")
        gateway.send(alice, say("lobby", "seen"))
        [seen] = [f for f in gateway.new_frames(bob) if f["action"] == "message"]
        gateway.disconnect(bob)
        for text in ("one", "two"):
            gateway.send(alice, say("lobby", text))
        back = gateway.connect("bob")
        since = {"action": "joinRoom", "roomId": "lobby", "since": seen["seq"]}
        assert gateway.send(back, since) == OK_JOIN
        joined, *replayed = untimed(gateway.new_frames(back))
        assert (joined["seq"], joined["recovered"], joined["replayed"]) == (3, True, 2)
        assert [(f["seq"], f["message"], f["sender"]) for f in replayed] == [
            (2, "one", "alice"), (3, "two", "alice"),
        ]

    def test_a_since_that_is_not_a_whole_number_is_400_and_joins_nothing(
        self, gateway: Gateway, deployed: Container, table: str, store_kind: str
    ) -> None:
        bob = gateway.connect("bob")
        answer = gateway.send(bob, {"action": "joinRoom", "roomId": "lobby", "since": "x"})
        assert answer == {"statusCode": 400, "body": "Invalid since: use a whole number >= 0"}
        assert stored(deployed, table, store_kind)["rooms"] == {}
