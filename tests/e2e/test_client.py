"""roomcast_client against the gateway: heartbeat, and reconnect except after 1000 and 1001."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

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
    async def test_a_normal_close_from_the_server_is_final(self, gateway: GatewayProcess) -> None:
        async with gateway.client("victor", reconnect_delay=0.05) as victor:
            client = management_client(gateway)
            await asyncio.to_thread(
                client.delete_connection, ConnectionId=connection_id_of(gateway, "victor")
            )
            assert await asyncio.wait_for(victor.closes.get(), 5) == 1000
            await asyncio.sleep(0.3)
            assert not victor.is_open and connects_of(gateway, "victor") == 1

    @async_test
    async def test_going_away_is_final(self, start: StartGateway) -> None:
        gateway = start("--idle-timeout", "0.3")
        async with gateway.client("wendy", reconnect_delay=0.05) as wendy:
            assert await asyncio.wait_for(wendy.closes.get(), 5) == 1001
            await asyncio.sleep(0.3)
            assert not wendy.is_open and connects_of(gateway, "wendy") == 1

    @async_test
    async def test_attempts_back_off_and_stop_at_the_maximum(self, start: StartGateway) -> None:
        gateway = start()
        client = gateway.client("xena", reconnect_delay=0.05, max_reconnect_attempts=3)
        await client.connect()
        gateway.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(client.closes.get(), 5) == 1006
        started = asyncio.get_running_loop().time()
        await eventually(lambda: client.reconnect_attempts == 3)
        assert asyncio.get_running_loop().time() - started >= 0.05 + 0.1  # the third waits 0.2
        await asyncio.sleep(0.5)
        assert client.reconnect_attempts == 3 and not client.is_open
        await client.disconnect()

