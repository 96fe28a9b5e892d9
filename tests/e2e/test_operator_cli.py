"""The operator's commands against a running `roomcast serve`, run as a user runs them, and
the readable records the gateway prints for each invocation."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.domain.model import Connection, ConnectionId, UserId
from roomcast_client import RoomcastClient
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import INHERITED_SETTINGS, ROOT, GatewayProcess
from tests.e2e.support import async_test, eventually, next_frame

pytestmark = pytest.mark.e2e

# How long a step may take on a busy machine; each wait ends as soon as its condition
# holds. On a loaded 2-core machine a CLI run, a handler and the frames it posts can
# each take seconds, and this test's 10 s waits ran out there once.
PATIENCE = 30.0


def roomcast(
    *argv: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not INHERITED_SETTINGS.match(k)}
    return subprocess.run(
        [sys.executable, "-m", "roomcast.entrypoints.cli", *argv], input=stdin,
        cwd=ROOT, env={**environ, **(env or {})}, capture_output=True, text=True, timeout=60,
    )


async def roomcast_json(gateway: GatewayProcess, *argv: str) -> Any:
    result = await asyncio.to_thread(roomcast, *argv, "--json", "--gateway", base(gateway))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def base(gateway: GatewayProcess) -> str:
    return gateway.page_url.rstrip("/")


async def join_all(room: str, *members: RoomcastClient) -> None:
    for member in members:
        await member.join_room(room)
        assert (await next_frame(member, PATIENCE))["action"] == "joinedRoom"


async def frame_where(
    client: RoomcastClient, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first frame `wanted` takes within PATIENCE, skipping others (e.g. presence frames
    of a client that reconnected)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        frame = await next_frame(client, max(0.0, deadline - time.monotonic()))
        if wanted(frame):
            return frame


def row_of(rows: list[dict[str, Any]], user: str) -> dict[str, Any]:
    [row] = [r for r in rows if r["userId"] == user]
    return row


class TestAgainstTheGateway:
    @async_test
    async def test_connections_and_rooms_show_the_live_sockets_with_users_and_rooms(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("ursula") as ursula, gateway.client("victor") as victor:
            await join_all(room, ursula, victor)
            rows = await roomcast_json(gateway, "connections")
            assert row_of(rows, "ursula")["rooms"] == [room]
            assert row_of(rows, "victor")["rooms"] == [room]
            assert abs(row_of(rows, "ursula")["connectedAt"] / 1000 - time.time()) < 60
            rooms = {r["roomId"]: r for r in await roomcast_json(gateway, "rooms")}
            assert rooms[room] == {"roomId": room, "members": 2, "users": ["ursula", "victor"]}

    @async_test
    async def test_post_delivers_and_kick_closes_then_the_connection_is_gone(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with (
            gateway.client("wendy", open_timeout=PATIENCE) as wendy,
            gateway.client("xavier", open_timeout=PATIENCE) as xavier,
        ):
            await join_all(room, wendy, xavier)
            assert (await next_frame(wendy, PATIENCE))["action"] == "userJoined"
            rows = await roomcast_json(gateway, "connections")
            wendy_id, xavier_id = row_of(rows, "wendy")["connectionId"], row_of(
                rows, "xavier")["connectionId"]

            # Any frame goes; a documented one keeps the AsyncAPI check of this test meaningful.
            frame = {"action": "error", "message": "Not in room", "timestamp": 1764240000000}
            await roomcast_json(gateway, "post", wendy_id, json.dumps(frame))
            assert await next_frame(wendy, PATIENCE) == frame

            assert await roomcast_json(gateway, "kick", xavier_id) == {
                "connectionId": xavier_id, "kicked": True}
            assert await asyncio.wait_for(xavier.closes.get(), PATIENCE) == 1000
            # A client may reconnect after a close it did not ask for, as a new connection
            # (and rejoin): what is gone is the kicked connection, whatever else is live.
            left = await frame_where(wendy, lambda f: f["action"] == "userLeft")
            assert (left["roomId"], left["userId"]) == (room, "xavier")
            live = await roomcast_json(gateway, "connections")
            assert xavier_id not in {row["connectionId"] for row in live}
            assert wendy_id in {row["connectionId"] for row in live}
            late = await asyncio.to_thread(
                roomcast, "post", xavier_id, "late", "--gateway", base(gateway))
            assert late.returncode == 1
            assert late.stderr.strip() == f"roomcast post: connection {xavier_id} is gone (410)"

    @async_test
    async def test_the_banners_management_url_names_the_gateway_and_dash_posts_stdin(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("yara", open_timeout=PATIENCE) as yara:
            await join_all(room, yara)
            at_stage = gateway.management_url  # http://127.0.0.1:PORT/dev, as the banner says
            listed = await asyncio.to_thread(
                roomcast, "connections", "--json", "--gateway", at_stage)
            assert listed.returncode == 0, listed.stderr
            yara_id = row_of(json.loads(listed.stdout), "yara")["connectionId"]

            frame = {"action": "error", "message": "Not in room", "timestamp": 1764240000000}
            posted = await asyncio.to_thread(
                roomcast, "post", "--gateway", at_stage, "--", yara_id, "-",
                stdin=json.dumps(frame))
            assert posted.returncode == 0, posted.stderr
            assert await next_frame(yara, PATIENCE) == frame

        other_stage = await asyncio.to_thread(
            roomcast, "rooms", "--gateway", f"{base(gateway)}/prod")
        assert other_stage.returncode == 2
        assert other_stage.stderr == (
            f"roomcast rooms: the gateway at {base(gateway)} serves stage 'dev', not 'prod': "
            f"use --gateway {at_stage}\n")

    @async_test
    async def test_the_gateway_prints_each_invocation_readably(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start("--log-level", "debug")  # at info, the access line stands for them
        async with gateway.client("yvonne") as yvonne:
            await yvonne.join_room(room)
            await next_frame(yvonne)

        def printed() -> list[str]:
            return [line for line in gateway.output if "routeKey=joinRoom" in line
                    and "roomcast.invocation: invocation" in line]

        await eventually(lambda: bool(printed()))
        line = printed()[-1]
        for field in ("function=message", "status=200", "outcome=ok", "durationMs=",
                      "delivered=1", "connectionId="):
            assert field in line, line
        assert not line.lstrip().startswith("{")
        # The metrics line is the invocation's last record: it may follow a moment later.
        await eventually(lambda: any(
            "roomcast.metrics: metrics" in out and "Route=joinRoom" in out
            for out in gateway.output
        ), timeout=30)


class TestCleanupThroughTheGateway:
    def test_the_sweep_probes_through_the_gateway_and_removes_what_it_does_not_know(
        self, start: StartGateway, dynamodb_table: tuple[dict[str, str], Any]
    ) -> None:
        settings, client = dynamodb_table
        running = start("--store", "dynamodb", env=settings)
        table = settings["CONNECTIONS_TABLE"]
        now_ms = int(time.time() * 1000)
        store = DynamoDBConnectionStore(client, table, FixedClock(now_ms))
        stale = Connection(ConnectionId("STALE0000000000="), UserId("ghost"),
                           connected_at=now_ms - 120_000, expires_at=now_ms // 1000 + 3600)
        store.add(stale)

        result = roomcast("cleanup", "--json", "--gateway", base(running), "--table", table,
                          env=settings)

        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"checked": 1, "removed": 1}
        assert store.get(stale.id) is None
