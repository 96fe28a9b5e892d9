"""Under load: pings answered at the edge, slow clients isolated, every frame handled once."""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import time
from collections import Counter

import pytest

from tests.e2e.conftest import NOTIFIERS, StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.keepalive_client import DefaultMember
from tests.e2e.raw_client import tcp_connection, text_frame, upgraded
from tests.e2e.support import async_test, connection_id_of, eventually, management_client

pytestmark = pytest.mark.e2e

PROMPT_PONG_SECONDS = 0.5
MESSAGES_PAST_KERNEL_BUFFERS = 250
READERS_WINDOW = 5  # messages of 30 KB: well within the outbound bound of the test


async def room_of(
    gateway: GatewayProcess, room: str, size: int, prefix: str
) -> list[DefaultMember]:
    """`size` members at websockets' defaults, joined one after another."""
    members = [
        await DefaultMember.connect(gateway.websocket_url, f"{prefix}-{i:03d}") for i in range(size)
    ]
    for member in members:
        await member.send("joinRoom", roomId=room)
        await eventually(member.has_joined)
    return members


async def close_all(*groups: list[DefaultMember]) -> None:
    await asyncio.gather(*(m.close() for group in groups for m in group))


def drained_to_the_end(raw: socket.socket, timeout: float = 10) -> bool:
    """Read until the server's end of the connection is closed (EOF or reset)."""
    raw.settimeout(timeout)
    try:
        while raw.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


class TestClientsAtWebsocketsDefaults:
    @async_test
    async def test_120_clients_in_6_rooms_get_every_frame_exactly_once(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        rooms = await asyncio.gather(
            *(room_of(gateway, f"{room}-{r}", 20, f"{room}-{r}") for r in range(6))
        )
        members = [m for group in rooms for m in group]
        sends = [m.send("sendMessage", roomId=f"{room}-{r}", message=f"{m.user_id}#{n}")
                 for r, group in enumerate(rooms) for m in group for n in range(5)]
        await asyncio.gather(*sends)
        await eventually(lambda: all(len(m.of("message")) >= 100 for m in members), 60)
        await asyncio.sleep(0.3)
        try:
            for group in rooms:
                expected = Counter(f"{m.user_id}#{n}" for m in group for n in range(5))
                for member in group:
                    assert Counter(f["message"] for f in member.of("message")) == expected
            assert all(m.socket.close_code is None for m in members)
        finally:
            await close_all(*rooms)

    @async_test
    async def test_a_ping_behind_queued_frames_is_answered_at_once(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        members = await room_of(gateway, room, 31, room)
        sender = members[0]
        try:
            for n in range(40):
                await sender.send("sendMessage", roomId=room, message=f"#{n}")
            await sender.send("sendMessage", roomId=room, message="dawdle")  # 2 s in its handler
            assert await sender.pong_seconds() < PROMPT_PONG_SECONDS
            await eventually(lambda: all(len(m.of("message")) == 41 for m in members))
        finally:
            await close_all(members)


class TestSlowClients:
    @pytest.mark.parametrize("notifier", NOTIFIERS)
    @async_test
    async def test_a_member_that_never_reads_is_dropped_without_slowing_anyone(
        self, start: StartGateway, room: str, notifier: str
    ) -> None:
        gateway = start("--max-outbound-bytes", "524288", "--notifier", notifier)
        slow = upgraded(gateway.websocket_url, "userId=slow", receive_buffer=4096)
        slow.sendall(text_frame(json.dumps({"action": "joinRoom", "roomId": room})))
        readers = await room_of(gateway, room, 3, "reader")
        elsewhere = await room_of(gateway, f"{room}-other", 2, "other")
        try:
            flood = asyncio.create_task(flood_past_kernel_buffers(readers, room))
            await asyncio.sleep(0.2)
            assert await elsewhere[0].pong_seconds() < PROMPT_PONG_SECONDS
            await elsewhere[1].send("sendMessage", roomId=f"{room}-other", message="meanwhile")
            await eventually(lambda: all(m.of("message") for m in elsewhere), 2)
            await flood
            assert await disconnect_code(gateway, "slow") == 1008
            await eventually(lambda: all(m.of("userLeft") for m in readers))
            assert {f["userId"] for m in readers for f in m.of("userLeft")} == {"slow"}
            assert await asyncio.to_thread(drained_to_the_end, slow)
            client, slow_id = management_client(gateway), connection_id_of(gateway, "slow")
            with pytest.raises(client.exceptions.GoneException):
                client.post_to_connection(ConnectionId=slow_id, Data=b"{}")
        finally:
            slow.close()
            await close_all(readers, elsewhere)


async def flood_past_kernel_buffers(senders: list[DefaultMember], room: str) -> None:
    """Send until every reader has every message; the kernel buffers ~4 MB for a socket
    whose reader is stalled, so a member that never reads falls far behind. The readers
    share this process with the flood: they are kept within a few messages of it, or on a
    busy machine they too would fall past the outbound bound."""
    text = "x" * 30_000
    started = time.monotonic()
    for n in range(MESSAGES_PAST_KERNEL_BUFFERS):
        await eventually(functools.partial(have_messages, senders, n - READERS_WINDOW), 20)
        await senders[n % len(senders)].send("sendMessage", roomId=room, message=f"{n}{text}")
    await eventually(functools.partial(have_messages, senders, MESSAGES_PAST_KERNEL_BUFFERS), 20)
    assert time.monotonic() - started < 20


def have_messages(members: list[DefaultMember], count: int) -> bool:
    return all(len(m.of("message")) >= count for m in members)


async def disconnect_code(gateway: GatewayProcess, user_id: str) -> int:
    connection_id = connection_id_of(gateway, user_id)
    for _ in range(200):
        for event in gateway.events_of(connection_id):
            if event["requestContext"]["eventType"] == "DISCONNECT":
                return int(event["requestContext"]["disconnectStatusCode"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no $disconnect for {user_id}")


class TestHandshakeTimeout:
    @async_test
    async def test_a_connection_that_never_upgrades_is_closed_while_others_connect(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start("--handshake-timeout", "1")
        silent = tcp_connection(gateway.websocket_url)
        trickling = tcp_connection(gateway.websocket_url)
        trickling.sendall(b"GET /dev HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        opened = time.monotonic()
        member = await DefaultMember.connect(gateway.websocket_url, "punctual")
        try:
            assert await member.pong_seconds() < PROMPT_PONG_SECONDS
            for raw in (silent, trickling):
                assert await asyncio.to_thread(drained_to_the_end, raw, 5)
            assert 0.9 < time.monotonic() - opened < 4
            await asyncio.sleep(max(0.0, opened + 1.5 - time.monotonic()))
            assert await member.pong_seconds() < PROMPT_PONG_SECONDS  # upgraded: kept open
            assert member.socket.close_code is None
        finally:
            silent.close()
            trickling.close()
            await member.close()


class TestInvocations:
    @async_test
    async def test_a_timed_out_frame_is_still_handled_exactly_once(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start("--integration-timeout", "0.3", "--workers", "2")
        members = await room_of(gateway, room, 20, "slowpoke")
        try:
            for member in members:
                await member.send("sendMessage", roomId=room, message=f"linger {member.user_id}")
            expected = Counter(f"linger {m.user_id}" for m in members)
            await eventually(lambda: all(len(m.of("message")) == 20 for m in members), 20)
            await asyncio.sleep(0.5)
            for member in members:
                assert Counter(f["message"] for f in member.of("message")) == expected
                timeouts = [f for f in member.frames if "action" not in f]
                assert [f["message"] for f in timeouts] == ["Endpoint request timed out"]
            lingering = [e for e in gateway.events() if "linger" in (e.get("body") or "")]
            assert len(lingering) == 20
        finally:
            await close_all(members)

    @async_test
    async def test_a_full_queue_refuses_the_frame_with_too_many_requests(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start("--workers", "1", "--max-queued", "1")
        (member,) = await room_of(gateway, room, 1, "eager")
        try:
            for n in range(3):
                await member.send("sendMessage", roomId=room, message=f"linger {n}")
            await eventually(lambda: len(member.of("message")) == 2)
            await asyncio.sleep(0.5)
            assert [f["message"] for f in member.of("message")] == ["linger 0", "linger 1"]
            refusals = [f["message"] for f in member.frames if "action" not in f]
            assert refusals == ["Too Many Requests"]
        finally:
            await member.close()
