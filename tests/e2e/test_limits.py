"""API Gateway's quotas: 32 KB frames, 128 KB messages (1009), idle and lifetime limits (1001)."""

from __future__ import annotations

import asyncio
import functools
import json
import time

import pytest

from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, connection_id_of, management_client, next_frame

pytestmark = pytest.mark.e2e

KB = 1024


def send_message_frame(room: str, text_bytes: int) -> str:
    return json.dumps({"action": "sendMessage", "roomId": room, "message": "x" * text_bytes})


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def disconnect_event(gateway: GatewayProcess, user_id: str) -> dict[str, object]:
    for _ in range(200):
        events = gateway.events_of(connection_id_of(gateway, user_id))
        if events and events[-1]["requestContext"]["eventType"] == "DISCONNECT":
            return dict(events[-1]["requestContext"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no $disconnect for {user_id}")


async def access_line(gateway: GatewayProcess, connection_id: str) -> str:
    """The gateway's `$disconnect` access line for the connection, once printed."""
    for _ in range(200):
        lines = [line for line in gateway.output if "$disconnect" in line and connection_id in line]
        if lines:
            return lines[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no $disconnect line for {connection_id}")


class TestSizeLimits:
    @async_test
    async def test_a_frame_over_32_kb_closes_the_connection_with_1009(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        client = gateway.client("ivan", max_reconnect_attempts=0)
        await client.connect()
        assert client.socket is not None
        await client.socket.send(send_message_frame(room, 33 * KB))
        assert await asyncio.wait_for(client.closes.get(), 10) == 1009
        assert client.socket.close_reason == "Message too big"  # API Gateway's reason
        context = await disconnect_event(gateway, "ivan")
        assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
            1009, "Message too big"
        )
        # The console also says which limit: the client's reason is the same for both.
        line = await access_line(gateway, connection_id_of(gateway, "ivan"))
        assert "close 1009 'Message too big'" in line and "over the 32,768-byte frame limit" in line

    @async_test
    async def test_a_100_kb_message_in_small_frames_reaches_the_handler(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("judy") as judy:
            assert judy.socket is not None
            await judy.socket.send(chunks(send_message_frame(room, 100 * KB), 16 * KB))
            frame = await next_frame(judy)
        # The domain's own message limit answers, so the frames got through the gateway.
        assert frame["action"] == "error" and frame["message"].startswith("Message too large")

    @async_test
    async def test_a_message_over_128_kb_in_small_frames_closes_with_1009(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        client = gateway.client("karl", max_reconnect_attempts=0)
        await client.connect()
        assert client.socket is not None
        await client.socket.send(chunks(send_message_frame(room, 129 * KB), 16 * KB))
        assert await asyncio.wait_for(client.closes.get(), 10) == 1009
        assert client.socket.close_reason == "Message too big"
        line = await access_line(gateway, connection_id_of(gateway, "karl"))
        assert "close 1009 'Message too big'" in line
        assert "over the 131,072-byte message limit" in line


class TestTimeLimits:
    @async_test
    async def test_an_idle_connection_is_closed_with_1001(self, start: StartGateway) -> None:
        gateway = start("--idle-timeout", "0.5")
        client = gateway.client("liam")
        await client.connect()
        opened = time.monotonic()
        assert await asyncio.wait_for(client.closes.get(), 10) == 1001
        assert 0.4 < time.monotonic() - opened < 3
        context = await disconnect_event(gateway, "liam")
        assert (context["disconnectStatusCode"], context["disconnectReason"]) == (
            1001, "Going away"
        )

    @async_test
    async def test_frames_posted_to_a_client_keep_it_from_idling_out(
        self, start: StartGateway
    ) -> None:
        gateway = start("--idle-timeout", "0.6")
        client = gateway.client("nora")
        await client.connect()
        post = functools.partial(
            management_client(gateway).post_to_connection,
            ConnectionId=connection_id_of(gateway, "nora"),
            Data=b"{}",
        )
        for _ in range(6):  # 1.5 s of frames for the client, none from it
            await asyncio.to_thread(post)
            await asyncio.sleep(0.25)
        assert client.is_open
        opened_idle = time.monotonic()
        assert await asyncio.wait_for(client.closes.get(), 10) == 1001
        assert 0.3 < time.monotonic() - opened_idle < 3

    @async_test
    async def test_activity_keeps_a_connection_open_until_its_maximum_duration(
        self, start: StartGateway
    ) -> None:
        gateway = start("--idle-timeout", "0.6", "--max-connection-duration", "2")
        client = gateway.client("mia", heartbeat_interval=0.2)
        await client.connect()
        opened = time.monotonic()
        assert await asyncio.wait_for(client.closes.get(), 10) == 1001
        assert 1.8 < time.monotonic() - opened < 4
