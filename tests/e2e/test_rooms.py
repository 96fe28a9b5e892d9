"""Rooms over real sockets: every expected frame arrives exactly once, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from roomcast_client import RoomcastClient
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import (
    assert_nothing_more,
    async_test,
    next_frame,
    route_keys_once_disconnected,
)

pytestmark = pytest.mark.e2e


async def expect(client: RoomcastClient, **fields: Any) -> dict[str, Any]:
    frame = await next_frame(client)
    assert {k: frame.get(k) for k in fields} == fields, frame
    return frame


class TestSeveralRooms:
    @async_test
    async def test_each_member_gets_each_frame_of_its_room_once(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        red, blue = f"{room}-red", f"{room}-blue"
        async with (
            gateway.client("alice") as alice,
            gateway.client("bob") as bob,
            gateway.client("carol") as carol,
            gateway.client("dave") as dave,
        ):
            await alice.join_room(red)
            await expect(alice, action="joinedRoom", roomId=red, members=["alice"])
            await bob.join_room(red)
            await expect(alice, action="userJoined", roomId=red, userId="bob")
            await expect(bob, action="joinedRoom", roomId=red, members=["alice", "bob"])
            await carol.join_room(blue)
            await expect(carol, action="joinedRoom", roomId=blue, members=["carol"])
            await dave.join_room(blue)
            await expect(carol, action="userJoined", roomId=blue, userId="dave")
            await expect(dave, action="joinedRoom", roomId=blue, members=["carol", "dave"])

            await alice.send_message(red, "hello red")
            await dave.send_message(blue, "hello blue")
            for member in (alice, bob):
                await expect(member, action="message", roomId=red, message="hello red")
            for member in (carol, dave):
                await expect(member, action="message", roomId=blue, message="hello blue")

            await bob.leave_room(red)
            await expect(bob, action="leftRoom", roomId=red)
            await expect(alice, action="userLeft", roomId=red, userId="bob")
            await assert_nothing_more(alice, bob, carol, dave)

    @async_test
    async def test_sender_comes_from_the_connection_not_the_frame(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("mallory") as mallory:
            await mallory.join_room(room)
            await expect(mallory, action="joinedRoom")
            await mallory.send("sendMessage", roomId=room, message="hi", sender="alice")
            await expect(mallory, action="message", sender="mallory")


    @async_test
    async def test_messages_from_one_connection_arrive_in_the_order_sent(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("olga") as olga, gateway.client("pete") as pete:
            for member in (olga, pete):
                await member.join_room(room)
                await expect(member, action="joinedRoom")
            await expect(olga, action="userJoined")
            texts = [f"#{n}" for n in range(30)]
            for text in texts:
                await olga.send_message(room, text)
            for member in (olga, pete):
                assert [(await next_frame(member))["message"] for _ in texts] == texts


class TestDepartures:
    @async_test
    async def test_a_client_that_drops_without_a_close_frame_is_announced_as_left(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("alice") as alice:
            bob = gateway.client("bob", max_reconnect_attempts=0)
            await bob.connect()
            await alice.join_room(room)
            await expect(alice, action="joinedRoom")
            await bob.join_room(room)
            await expect(alice, action="userJoined", userId="bob")

            assert bob.socket is not None
            bob.socket.transport.abort()

            await expect(alice, action="userLeft", roomId=room, userId="bob")
            await assert_nothing_more(alice)
            await bob.disconnect()


class TestRouteSelection:
    @pytest.mark.parametrize(
        ("frame", "error"),
        [
            ('{"action": "dance"}', "Unknown action: dance"),
            ('{"action": 5}', "Unknown action: 5"),
            ("not json at all", "Invalid JSON"),
            ('{"roomId": "x"}', "action required"),
            ("[" * 30_000, "Invalid JSON"),
        ],
    )
    @async_test
    async def test_frames_without_a_matching_route_reach_the_default_route(
        self, gateway: GatewayProcess, frame: str, error: str
    ) -> None:
        user = f"eve-{abs(hash(frame))}"
        async with gateway.client(user) as eve:
            assert eve.socket is not None
            await eve.socket.send(frame)
            await expect(eve, action="error", message=error)
        assert await route_keys_once_disconnected(gateway, user) == [
            "$connect", "$default", "$disconnect"
        ]

    @async_test
    async def test_a_matching_action_selects_its_own_route(self, gateway: GatewayProcess) -> None:
        async with gateway.client("frank") as frank:
            await frank.ping()
            await frank.send("sendMessage", roomId="nowhere", message="x")
            await expect(frank, action="error", message="Not in room")
        assert frank.last_pong is not None
        assert await route_keys_once_disconnected(gateway, "frank") == [
            "$connect", "ping", "sendMessage", "$disconnect"
        ]
