"""roomcast_client against the gateway: heartbeat, and a reconnect after every close it did
not ask for."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from roomcast_client import RoomcastClient
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, connection_id_of, eventually, management_client

pytestmark = pytest.mark.e2e

OVERSIZE = json.dumps({"action": "ping", "padding": "x" * 40_000})


def connects_of(gateway: GatewayProcess, user_id: str) -> int:
    return sum(
        1
        for e in gateway.events()
        if (e.get("queryStringParameters") or {}).get("userId") == user_id
    )


class TestHeartbeat:
    @async_test
    async def test_the_client_pings_on_its_own(self, gateway: GatewayProcess) -> None:
        async with gateway.client("tara", heartbeat_interval=0.1) as tara:
            await eventually(lambda: tara.last_pong is not None)


class TestReconnect:
    @async_test
    async def test_an_abnormal_close_reconnects_with_the_same_query(
        self, gateway: GatewayProcess
    ) -> None:
        async with gateway.client("uma", reconnect_delay=0.05) as uma:
            assert uma.socket is not None
            await uma.socket.send(OVERSIZE)
            assert await asyncio.wait_for(uma.closes.get(), 5) == 1009
            await eventually(lambda: uma.is_open and connects_of(gateway, "uma") == 2)
            assert uma.reconnect_attempts == 0

    @async_test
    async def test_a_close_by_the_server_is_followed_by_a_reconnect(
        self, gateway: GatewayProcess
    ) -> None:
        async with gateway.client("victor", reconnect_delay=0.05) as victor:
            client = management_client(gateway)
            await asyncio.to_thread(
                client.delete_connection, ConnectionId=connection_id_of(gateway, "victor")
            )
            assert await asyncio.wait_for(victor.closes.get(), 5) == 1000
            await eventually(lambda: victor.is_open and connects_of(gateway, "victor") == 2)

    @async_test
    async def test_going_away_1001_is_followed_by_a_reconnect(self, start: StartGateway) -> None:
        """API Gateway closes with 1001 after 10 idle minutes and after 2 hours."""
        gateway = start("--idle-timeout", "1")
        async with gateway.client("wendy", reconnect_delay=0.05, heartbeat_interval=60) as wendy:
            assert await asyncio.wait_for(wendy.closes.get(), 5) == 1001
            await eventually(lambda: wendy.is_open and connects_of(gateway, "wendy") == 2)

    @async_test
    async def test_attempts_stop_at_a_maximum_when_one_is_set(self, start: StartGateway) -> None:
        gateway = start()
        client = gateway.client("xena", reconnect_delay=0.05, max_reconnect_attempts=3)
        await client.connect()
        gateway.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(client.closes.get(), 5) == 1006
        await eventually(lambda: client.reconnect_attempts == 3)
        await asyncio.sleep(0.5)
        assert client.reconnect_attempts == 3 and not client.is_open
        await client.disconnect()


class TestBackoff:
    def test_each_wait_is_random_up_to_a_doubling_capped_ceiling(self) -> None:
        client = RoomcastClient("ws://127.0.0.1:1/dev", reconnect_delay=1, max_reconnect_delay=8)
        for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
            waits = [client.backoff(attempt) for _ in range(200)]
            assert all(0 <= wait <= ceiling for wait in waits)
            assert max(waits) > ceiling / 2  # spread over the range, not pinned low

    def test_there_is_no_give_up_by_default(self) -> None:
        assert RoomcastClient("ws://127.0.0.1:1/dev").max_reconnect_attempts is None

