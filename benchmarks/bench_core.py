"""The pure core: parsing and in-memory fan-out against the bare work they wrap."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Sequence

from benchmarks.timing import Ratio, compare
from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.commands import parse
from roomcast.domain.frames import Frame
from roomcast.domain.model import Connection, ConnectionId, RoomId, UserId
from roomcast.domain.results import BroadcastResult
from roomcast.domain.service import ChatService

FRAMES = [
    json.dumps({"action": "sendMessage", "roomId": f"room-{i % 10}", "message": "hello " * 20})
    for i in range(20_000)
]


class NullNotifier:
    """Encodes each frame once and drops it: the least work any real notifier does."""

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        frame.encode()

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        frame.encode()
        return BroadcastResult(delivered=len(connection_ids))

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        return frozenset()


def parse_overhead() -> Ratio:
    return compare(
        "parse 20k frames (validate + command)",
        lambda: [parse(frame) for frame in FRAMES],
        lambda: [json.loads(frame) for frame in FRAMES],
        "json.loads alone",
    )


def room_service(members: int) -> ChatService:
    """A service whose store already holds one room of `members` (filled past the service,
    since joining one by one would time the userJoined fan-out instead), each member left
    as a service join leaves it: announced."""
    clock = FixedClock()
    log = InMemoryRoomLog(clock)
    store = InMemoryConnectionStore(clock, log)
    for i in range(members):
        connection = service_connection(clock, i)
        store.add(connection)
        store.join(connection, RoomId("big"), clock.now_ms())
        store.mark_announced(connection.id, RoomId("big"))
    return ChatService(store, NullNotifier(), clock, log=log)


def service_connection(clock: FixedClock, i: int) -> Connection:
    now = clock.now_ms()
    return Connection(ConnectionId(f"c{i}"), UserId(f"user{i}"), now, now // 1000 + 7200)


def send_overhead() -> Ratio:
    service = room_service(1_000)
    sender = ConnectionId("c0")
    room = {f"c{i}": f"user{i}" for i in range(1_000)}
    body = json.dumps({"action": "sendMessage", "roomId": "big", "message": "hi"})

    def bare_fanout() -> None:
        for _ in range(100):
            data = json.loads(body)
            recipients = list(room)
            frame = {"action": "message", "message": data["message"], "sender": room["c0"]}
            json.dumps(frame).encode()
            assert len(recipients) == 1_000

    return compare(
        "100 sends to a 1,000-member room (memory)",
        lambda: [service.handle(sender, body) for _ in range(100)],
        bare_fanout,
        "dict lookup + decode + encode",
    )


def memory_per_connection(count: int = 10_000) -> tuple[float, float]:
    """Bytes per stored connection (in one room) against a plain dict of the same ids."""
    tracemalloc.start()
    service = room_service(count)
    store_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    tracemalloc.start()
    plain = {f"c{i}": (f"user{i}", "big") for i in range(count)}
    plain_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del service, plain
    return store_bytes / count, plain_bytes / count
