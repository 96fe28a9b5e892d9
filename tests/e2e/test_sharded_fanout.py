"""A room past the shard size on `roomcast serve`: the sender's invocation posts the first
shard, the rest go through the template's FanoutQueue to DeliverFunction by the emulated
event source mapping, and every member gets the message exactly once.

Each join announces userJoined to every member already there, so a room of n members costs
n²/2 frames to build: 700 members (245,000 frames, most of them through the queue too)
is what fits in well under a minute on a laptop; the message itself is the cheap part. A
room of several thousand sockets is built on DynamoDB instead: its memberships are written
into the table through the store adapter, as 3,000 joins would have left them, without
their 4.5 million userJoined.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import resource
import time
import urllib.request
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.domain.model import RoomId
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, eventually

pytestmark = pytest.mark.e2e

MEMBERS = 700
SHARD_SIZE = 50
CONCURRENCY = 50
# Ten deliver workers at 1,000 posts a second each: the budget paces them, not the laptop.
ARGUMENTS = (
    "--template", "infra/template.yaml",
    "--parameter-overrides", f"FanoutShardSize={SHARD_SIZE}", "CallbackBudget=10000",
)


@pytest.fixture(autouse=True)
def frames_follow_the_asyncapi_document() -> None:
    """Overrides tests/e2e's check of every frame against docs/asyncapi.yaml: a quarter of a
    million userJoined would take longer to check than the test takes; the frames a shard
    carries are the sender's own, which the other e2e tests check."""


def enough_file_descriptors(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def queue_status(gateway: GatewayProcess) -> dict[str, Any]:
    origin = gateway.management_url.rsplit("/", 1)[0]
    with urllib.request.urlopen(f"{origin}/@roomcast/queues", timeout=10) as answer:
        return dict(json.load(answer))


def deliver_mapping(status: dict[str, Any]) -> dict[str, Any]:
    (mapping,) = [m for m in status["mappings"] if m["function"] == "DeliverFunction"]
    return dict(mapping)


class Member:
    """A bare `websockets` client at its defaults (keepalive on) that keeps only its
    message frames: a member of this room gets about a thousand userJoined first."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.joined = asyncio.Event()
        self.messages: list[dict[str, Any]] = []
        self.frames = 0
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.socket:
                self.frames += 1
                text = raw if isinstance(raw, str) else raw.decode()
                if '"message"' in text or '"joinedRoom"' in text:
                    frame = json.loads(text)
                    if frame["action"] == "message":
                        self.messages.append(frame)
                    elif frame["action"] == "joinedRoom":
                        self.joined.set()

    async def send(self, action: str, **fields: Any) -> None:
        await self.socket.send(json.dumps({"action": action, **fields}))

    async def close(self) -> None:
        await self.socket.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def big_room(gateway: GatewayProcess, room: str, size: int) -> list[Member]:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def member(number: int) -> Member:
        async with slots:
            joining = Member(await connect(f"{gateway.websocket_url}?userId=big-{number:04d}"))
            await joining.send("joinRoom", roomId=room)
            await asyncio.wait_for(joining.joined.wait(), 60)
            return joining

    return list(await asyncio.gather(*(member(n) for n in range(size))))


class TestShardedFanout:
    @async_test
    async def test_every_member_of_a_room_past_the_shard_size_gets_a_message_once(
        self, start: StartGateway, room: str
    ) -> None:
        enough_file_descriptors(MEMBERS + 200)
        gateway = start(*ARGUMENTS)
        banner = "\n".join(gateway.output)
        assert "FanoutQueue -> DeliverFunction (in-process queue, batch 1" in banner
        members = await big_room(gateway, room, MEMBERS)
        try:
            await eventually(lambda: queue_status(gateway)["queues"][0]["inFlight"] == 0, 30)
            before = deliver_mapping(queue_status(gateway))
            assert before["records"] > 0  # the joins' userJoined were sharded too
            await members[0].send("sendMessage", roomId=room, message="to everyone")
            await eventually(lambda: all(m.messages for m in members), timeout=30)
            await asyncio.sleep(0.5)
            seqs = [[f["seq"] for f in m.messages] for m in members]
            assert all(len(got) == 1 for got in seqs), "a member got the message twice"
            assert len({got[0] for got in seqs}) == 1
            after = deliver_mapping(queue_status(gateway))
            shards = math.ceil((MEMBERS - SHARD_SIZE) / SHARD_SIZE)
            assert after["records"] - before["records"] == shards
            assert after["failedRecords"] == 0
            (fanout,) = [q for q in queue_status(gateway)["queues"]
                         if q["logicalId"] == "FanoutQueue"]
            assert fanout["deadLettered"] == 0
            assert fanout["visible"] == fanout["inFlight"] == 0
        finally:
            await asyncio.gather(*(m.close() for m in members))
        assert any("DeliverFunction (DeliverEventSourceMapping <- dev-roomcast-fanout)" in line
                   for line in gateway.output)


THOUSANDS = 3_000
BIG_SHARDS = 100


async def connected(gateway: GatewayProcess, size: int) -> list[Member]:
    slots = asyncio.Semaphore(100)

    async def member(number: int) -> Member:
        async with slots:
            return Member(await connect(f"{gateway.websocket_url}?userId=many-{number:05d}"))

    return list(await asyncio.gather(*(member(n) for n in range(size))))


def joined_in_the_table(store: DynamoDBConnectionStore, room: RoomId, size: int) -> int:
    """Join every stored connection to `room` with the adapter's own join (the membership,
    the connection's rooms and the room's membership version, in one transaction each)."""
    connections = [c for c in store.connections() if c.user_id.value.startswith("many-")]
    assert len(connections) == size
    for connection in connections:
        store.join(connection, room, int(time.time() * 1000))
    return len(connections)


class TestAFewThousandSockets:
    @async_test
    async def test_every_one_gets_a_message_once_through_thirty_shards(
        self, start: StartGateway, room: str, dynamodb_table: tuple[dict[str, str], Any]
    ) -> None:
        settings, client = dynamodb_table
        enough_file_descriptors(THOUSANDS + 300)
        gateway = start(
            "--template", "infra/template.yaml", "--store", "dynamodb",
            "--parameter-overrides", f"FanoutShardSize={BIG_SHARDS}", "CallbackBudget=10000",
            env=settings,
        )
        members = await connected(gateway, THOUSANDS)
        try:
            store = DynamoDBConnectionStore(
                client, settings["CONNECTIONS_TABLE"], FixedClock(int(time.time() * 1000))
            )
            await asyncio.to_thread(joined_in_the_table, store, RoomId(room), THOUSANDS)
            before = deliver_mapping(queue_status(gateway))
            await members[0].send("sendMessage", roomId=room, message="to thousands")
            await eventually(lambda: all(m.messages for m in members), timeout=60)
            await asyncio.sleep(0.5)
            seqs = [[f["seq"] for f in m.messages] for m in members]
            assert all(len(got) == 1 for got in seqs), "a member got the message twice"
            assert {got[0] for got in seqs} == {1}
            after = deliver_mapping(queue_status(gateway))
            assert after["records"] - before["records"] == THOUSANDS // BIG_SHARDS - 1
            assert after["failedRecords"] == 0
        finally:
            await asyncio.gather(*(m.close() for m in members))
