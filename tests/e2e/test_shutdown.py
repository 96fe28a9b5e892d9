"""SIGTERM (as Ctrl-C) closes every connection with 1001 and runs $disconnect for each."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import StartGateway
from tests.e2e.support import async_test, connection_id_of, next_frame

pytestmark = pytest.mark.e2e


class TestShutdown:
    @async_test
    async def test_sigterm_closes_each_connection_and_runs_its_disconnect(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start()
        alice, bob = gateway.client("alice"), gateway.client("bob")
        for member in (alice, bob):
            await member.connect()
            await member.join_room(room)
            assert (await next_frame(member))["action"] == "joinedRoom"

        exit_code = await asyncio.to_thread(gateway.stop)

        assert exit_code == 0
        assert [await alice.closes.get(), await bob.closes.get()] == [1001, 1001]
        for user in ("alice", "bob"):
            last = gateway.events_of(connection_id_of(gateway, user))[-1]["requestContext"]
            assert (last["routeKey"], last["disconnectStatusCode"]) == ("$disconnect", 1001)
        assert "Shutting down: closing 2 connection(s)" in gateway.output
        assert not [line for line in gateway.output if "Traceback" in line]
