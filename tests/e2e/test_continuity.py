"""Conversations outlive connections: a client cut off while others talk gets every message
back exactly once and in seq order, whatever cut it off."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from roomcast_client import Gap, RoomcastClient
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, eventually

pytestmark = pytest.mark.e2e

AWAY_SECONDS = 1.5  # how long a cut-off client waits before it comes back, in these tests
DEADLINE = 30.0  # generous: a loaded machine is slow, and every wait ends on what it sees


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def away_for_a_while(client: RoomcastClient) -> RoomcastClient:
    """Come back after exactly AWAY_SECONDS, so that the others talk while it is away."""
    client.backoff = lambda attempt: AWAY_SECONDS  # type: ignore[method-assign]
    return client


async def frame_where(client: RoomcastClient, **wanted: Any) -> dict[str, Any]:
    async with asyncio.timeout(DEADLINE):
        while True:
            frame = await client.receive()
            if all(frame.get(k) == v for k, v in wanted.items()):
                return frame


async def messages(client: RoomcastClient, count: int) -> list[tuple[int, str]]:
    """The next `count` messages the client hands on, skipping every other frame."""
    found: list[tuple[int, str]] = []
    async with asyncio.timeout(DEADLINE):
        while len(found) < count:
            frame = await client.receive()
            if frame.get("action") == "message":
                found.append((frame["seq"], frame["message"]))
    return found


async def in_room(client: RoomcastClient, room: str) -> dict[str, Any]:
    await client.connect()
    await client.join_room(room)
    return await frame_where(client, action="joinedRoom", roomId=room)


async def say(client: RoomcastClient, room: str, *texts: str) -> None:
    for text in texts:
        assert await client.send_message(room, text)


class TestACutOffClientGetsEverythingBackOnce:
    @async_test
    async def test_after_dropping_its_own_socket(self, gateway: GatewayProcess, room: str) -> None:
        alice, bob = gateway.client("alice"), away_for_a_while(gateway.client("bob"))
        await in_room(alice, room)
        await in_room(bob, room)
        await say(alice, room, "before")
        assert await messages(bob, 1) == [(1, "before")]
        assert bob.socket is not None
        bob.socket.transport.abort()  # the phone changed networks
        await bob.closes.get()
        await say(alice, room, "one", "two", "three")
        rejoined = await frame_where(bob, action="joinedRoom", recovered=True)
        assert rejoined["replayed"] == 3
        assert await messages(bob, 3) == [(2, "one"), (3, "two"), (4, "three")]
        await say(alice, room, "live again")
        assert await messages(bob, 1) == [(5, "live again")]
        assert bob.gaps.empty()
        await asyncio.gather(alice.disconnect(), bob.disconnect())

    @async_test
    async def test_after_the_gateways_2_hour_close_1001(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start("--max-connection-duration", "4")
        bob = away_for_a_while(gateway.client("bob"))
        await in_room(bob, room)
        await asyncio.sleep(2)  # alice's connection ends 2 s after bob's
        alice = gateway.client("alice")
        await in_room(alice, room)
        assert await asyncio.wait_for(bob.closes.get(), DEADLINE) == 1001
        await say(alice, room, "while you were away", "and this")
        assert await messages(bob, 2) == [(1, "while you were away"), (2, "and this")]
        await eventually(lambda: bob.is_open, DEADLINE)
        assert bob.gaps.empty()
        await asyncio.gather(alice.disconnect(), bob.disconnect())

    @async_test
    async def test_after_a_dynamodb_backed_gateway_restarts(
        self, start: StartGateway, dynamodb_settings: dict[str, str], room: str
    ) -> None:
        port = str(free_loopback_port())
        first = start("--port", port, "--store", "dynamodb", env=dynamodb_settings)
        alice, bob = gateway_clients(first)
        await in_room(alice, room)
        await in_room(bob, room)
        await say(alice, room, "before the restart")
        assert await messages(bob, 1) == [(1, "before the restart")]
        first.stop()
        assert await asyncio.wait_for(bob.closes.get(), DEADLINE) == 1001
        start("--port", port, "--store", "dynamodb", env=dynamodb_settings)
        await frame_where(alice, action="joinedRoom", recovered=True)
        await say(alice, room, "after the restart")
        assert await messages(bob, 1) == [(2, "after the restart")]
        assert bob.gaps.empty()
        await asyncio.gather(alice.disconnect(), bob.disconnect())


def gateway_clients(gateway: GatewayProcess) -> tuple[RoomcastClient, RoomcastClient]:
    """alice comes back at once, bob a while later: alice talks while bob is away."""
    alice = gateway.client("alice", reconnect_delay=0.2, max_reconnect_delay=0.5)
    return alice, away_for_a_while(gateway.client("bob"))


class TestRetention:
    @async_test
    async def test_what_the_room_no_longer_keeps_is_told_as_a_gap(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_HISTORY_MESSAGES": "2"})
        alice, bob = gateway.client("alice"), away_for_a_while(gateway.client("bob"))
        await in_room(alice, room)
        await in_room(bob, room)
        assert bob.socket is not None
        bob.socket.transport.abort()
        await bob.closes.get()
        await say(alice, room, "one", "two", "three", "four")
        rejoined = await frame_where(bob, action="joinedRoom", recovered=False)
        assert rejoined["replayed"] == 2
        assert await messages(bob, 2) == [(3, "three"), (4, "four")]
        assert await asyncio.wait_for(bob.gaps.get(), DEADLINE) == Gap(room, 1, 2)
        await asyncio.gather(alice.disconnect(), bob.disconnect())


class TestTheClientComesBack:
    @async_test
    async def test_it_reconnects_after_1001_and_1006_until_it_disconnects(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start("--idle-timeout", "3")
        bob = gateway.client("bob", reconnect_delay=0.05, heartbeat_interval=60)
        await in_room(bob, room)
        assert await asyncio.wait_for(bob.closes.get(), DEADLINE) == 1001
        await frame_where(bob, action="joinedRoom", recovered=True)
        await bob.disconnect()
        assert await asyncio.wait_for(bob.closes.get(), DEADLINE) == 1000
        await asyncio.sleep(0.5)
        assert not bob.is_open
