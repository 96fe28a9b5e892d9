"""The gateway's queues without sockets: outboxes, the invoker's bound and timeouts, and the
in-process notifier's hand-over to the event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import WSMsgType

from roomcast.domain import frames
from roomcast.domain.errors import ConnectionGone, DeliveryFailed, FailureKind
from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.gateway.connections import ConnectionRegistry, LiveConnection
from roomcast.entrypoints.gateway.inprocess import InProcessNotifier
from roomcast.entrypoints.gateway.invoker import TIMED_OUT, Invoker
from roomcast.entrypoints.gateway.outbox import Outbox
from roomcast.entrypoints.gateway.proxy_events import Caller
from roomcast.entrypoints.gateway.routing import Route


class TestOutbox:
    def test_frames_are_written_in_order_by_one_writer(self) -> None:
        written: list[bytes] = []

        async def send(data: bytes, opcode: WSMsgType) -> None:
            await asyncio.sleep(0)
            written.append(data)

        async def scenario() -> None:
            outbox = Outbox(send, 100, lambda: None)
            assert all(outbox.put(bytes([n])) for n in range(10))
            await asyncio.sleep(0.05)
            assert outbox.pending_bytes == 0

        asyncio.run(scenario())
        assert written == [bytes([n]) for n in range(10)]

    def test_a_client_too_far_behind_is_dropped_once_and_refused_after(self) -> None:
        overflows: list[str] = []

        async def stalled(data: bytes, opcode: WSMsgType) -> None:
            await asyncio.Event().wait()

        async def scenario() -> list[bool]:
            outbox = Outbox(stalled, 25, lambda: overflows.append("dropped"))
            accepted = [outbox.put(b"x" * 10) for _ in range(4)]
            await asyncio.sleep(0)
            return accepted

        assert asyncio.run(scenario()) == [True, True, False, False]
        assert overflows == ["dropped"]


def sleepy_route(runs: list[str], seconds: float) -> Route:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(seconds)
        runs.append(event["requestContext"]["requestId"])
        return {"statusCode": 200}

    return Route("sendMessage", "MessageFunction", "sleepy", handler)


def event(request_id: str) -> dict[str, Any]:
    return {"requestContext": {"requestId": request_id}}


class TestInvoker:
    def test_a_timeout_is_the_answer_while_the_run_and_the_one_queued_behind_it_finish(
        self,
    ) -> None:
        runs: list[str] = []
        route = sleepy_route(runs, 0.2)

        async def scenario() -> list[str]:
            invoker = Invoker(workers=1, timeout_seconds=0.05)
            first, queued = invoker.start(route, event("a")), invoker.start(route, event("b"))
            answers = [(await first.answer(route)).error, (await queued.answer(route)).error]
            await first.finished()
            await queued.finished()
            invoker.shutdown()
            return [str(a) for a in answers]

        assert asyncio.run(scenario()) == [TIMED_OUT, TIMED_OUT]
        assert runs == ["a", "b"]

    def test_admission_stops_at_workers_plus_queue_and_reopens_when_a_run_ends(self) -> None:
        route = sleepy_route([], 0.01)

        async def scenario() -> list[bool]:
            invoker = Invoker(workers=2, timeout_seconds=1, max_queued=1)
            admitted = [invoker.admit() for _ in range(4)]
            await invoker.start(route, event("a"), admitted=True).finished()
            admitted.append(invoker.admit())
            invoker.shutdown()
            return admitted

        assert asyncio.run(scenario()) == [True, True, True, False, True]


class CountingLoop:
    """Stands in for the gateway's event loop: records what the handler threads hand it."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def call_soon_threadsafe(self, *call: object) -> None:
        self.calls.append(call)


class StubSocket:
    closed = False

    async def send_frame(self, data: bytes, opcode: object) -> None:
        raise AssertionError("nothing is written in these tests")


def live_connections(*ids: str) -> ConnectionRegistry:
    registry = ConnectionRegistry()
    for connection_id in ids:
        caller = Caller(connection_id, 0, "127.0.0.1", "test")
        registry.add(LiveConnection(caller, StubSocket(), None, 1024))  # type: ignore[arg-type]
    return registry


class TestInProcessNotifier:
    def test_a_broadcast_is_one_hand_over_to_the_loop_whatever_the_room_size(self) -> None:
        loop = CountingLoop()
        ids = [f"c{i}" for i in range(50)]
        notifier = InProcessNotifier(live_connections(*ids), loop, 128 * 1024)  # type: ignore[arg-type]
        result = notifier.broadcast([ConnectionId(c) for c in [*ids, "gone"]], frames.pong(1))
        assert (result.delivered, result.gone) == (50, frozenset({ConnectionId("gone")}))
        assert len(loop.calls) == 1

    def test_an_unknown_or_closed_connection_is_gone(self) -> None:
        registry = live_connections("open", "closing")
        registry.open_connection("closing").ended(1000)  # type: ignore[union-attr]
        notifier = InProcessNotifier(registry, CountingLoop(), 128 * 1024)  # type: ignore[arg-type]
        for connection_id in ("unknown", "closing"):
            with pytest.raises(ConnectionGone):
                notifier.send(ConnectionId(connection_id), frames.pong(1))
        probed = [ConnectionId(c) for c in ("open", "closing", "unknown")]
        assert notifier.find_gone(probed) == {ConnectionId("closing"), ConnectionId("unknown")}

    def test_a_frame_over_128_kb_fails_like_a_413(self) -> None:
        notifier = InProcessNotifier(live_connections("a"), CountingLoop(), 128 * 1024)  # type: ignore[arg-type]
        big = frames.error("x" * 128 * 1024, 1)
        with pytest.raises(DeliveryFailed) as raised:
            notifier.send(ConnectionId("a"), big)
        assert raised.value.kind is FailureKind.PAYLOAD_TOO_LARGE
        failed = notifier.broadcast([ConnectionId("a")], big).failed
        assert {c: f.kind for c, f in failed.items()} == {
            ConnectionId("a"): FailureKind.PAYLOAD_TOO_LARGE
        }
