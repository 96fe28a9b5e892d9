"""The concurrent notifiers' promises (aiobotocore and signed HTTP): bounded concurrency, one
client, safe from many threads, a close that leaves nobody hanging."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession

from roomcast.adapters.async_fanout import AsyncFanoutNotifier
from roomcast.adapters.loop_notifier import LoopNotifier
from roomcast.adapters.signed_http import SignedHttpNotifier
from roomcast.domain import frames
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult
from tests.support.gateway_stub import GatewayStub
from tests.support.notifier_harnesses import (
    CREDENTIALS,
    FAST_RETRY,
    async_fanout,
    botocore_session,
    signed_http,
    start_stub,
)

FRAME = frames.pong(1_700_000_000_000)
ROOT = Path(__file__).resolve().parents[2]
LEFT_OPEN = """
from roomcast.domain import frames
from roomcast.domain.model import ConnectionId
from tests.support.gateway_stub import GatewayStub
from tests.support.notifier_harnesses import botocore_session, aio_session
from roomcast.adapters.signed_http import SignedHttpNotifier
from roomcast.adapters.async_fanout import AsyncFanoutNotifier
stub = GatewayStub()
kept_for_the_process = [
    SignedHttpNotifier(stub.endpoint, region="us-east-1", session=botocore_session()),
    AsyncFanoutNotifier(stub.endpoint, region="us-east-1", session=aio_session()),
]
for notifier in kept_for_the_process:
    notifier.send(ConnectionId("c-1"), frames.pong(1))
assert len(stub.received("c-1")) == 2
"""


class CountingSession(AioSession):  # type: ignore[misc]
    """A real aiobotocore session that counts the clients it creates."""

    def __init__(self) -> None:
        super().__init__()
        self.set_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
        self.clients_created = 0

    def create_client(self, *args: Any, **kwargs: Any) -> Any:
        self.clients_created += 1
        return super().create_client(*args, **kwargs)


class EncodeCountingFrame(Frame):
    def encode(self) -> bytes:
        encoded_frames.append(self)
        return super().encode()


encoded_frames: list[Frame] = []


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> GatewayStub:
    return start_stub(request)


MakeNotifier = Callable[[str, int], LoopNotifier]


@pytest.fixture(params=["async", "signed-http"])
def make(request: pytest.FixtureRequest) -> MakeNotifier:
    """A concurrent notifier at an endpoint with a concurrency, unstarted and not yet closed."""

    def build(endpoint: str, concurrency: int) -> LoopNotifier:
        if request.param == "async":
            return AsyncFanoutNotifier(
                endpoint, concurrency, "us-east-1", FAST_RETRY, CountingSession()
            )
        return SignedHttpNotifier(
            endpoint, concurrency, "us-east-1", FAST_RETRY, botocore_session()
        )

    return build


@pytest.fixture(params=["async", "signed-http"])
def notifier(request: pytest.FixtureRequest, stub: GatewayStub) -> LoopNotifier:
    if request.param == "async":
        return async_fanout(request, stub.endpoint, "us-east-1")
    return signed_http(request, stub.endpoint, "us-east-1")


def recipients(count: int) -> list[ConnectionId]:
    return [ConnectionId(f"c-{i:04}") for i in range(count)]


def fully_delivered(result: BroadcastResult, connection_ids: Sequence[ConnectionId]) -> bool:
    expected: tuple[int, frozenset[ConnectionId], dict[ConnectionId, str]] = (
        len(connection_ids), frozenset(), {}
    )
    return (result.delivered, result.gone, dict(result.failed)) == expected


class TestBoundedConcurrency:
    @pytest.mark.parametrize("concurrency", [4, 16])
    def test_a_broadcast_keeps_at_most_concurrency_posts_in_flight(
        self,
        request: pytest.FixtureRequest,
        stub: GatewayStub,
        make: MakeNotifier,
        concurrency: int,
    ) -> None:
        stub.post_delay = 0.02
        notifier = make(stub.endpoint, concurrency)
        request.addfinalizer(notifier.close)
        everyone = recipients(200)
        assert fully_delivered(notifier.broadcast(everyone, FRAME), everyone)
        assert 1 < stub.max_in_flight <= concurrency
        assert all(stub.posts_to(c.value) == 1 for c in everyone)

    def test_a_broadcast_encodes_its_frame_once(self, notifier: LoopNotifier) -> None:
        frame = EncodeCountingFrame(FRAME.fields)
        encoded_frames.clear()
        notifier.broadcast(recipients(20), frame)
        assert encoded_frames == [frame]


class TestOneClient:
    def test_two_broadcasts_share_one_client(
        self, request: pytest.FixtureRequest, stub: GatewayStub
    ) -> None:
        session = CountingSession()
        notifier = AsyncFanoutNotifier(stub.endpoint, session=session, region="us-east-1")
        request.addfinalizer(notifier.close)
        notifier.broadcast(recipients(3), FRAME)
        notifier.broadcast(recipients(3), FRAME)
        notifier.find_gone(recipients(3))
        assert session.clients_created == 1

    def test_no_client_is_created_before_the_first_call(self, stub: GatewayStub) -> None:
        session = CountingSession()
        notifier = AsyncFanoutNotifier(stub.endpoint, session=session, region="us-east-1")
        notifier.close()
        assert session.clients_created == 0


class TestSynchronousCallers:
    def test_threads_broadcasting_at_once_share_one_bounded_pool(
        self, request: pytest.FixtureRequest, stub: GatewayStub, make: MakeNotifier
    ) -> None:
        notifier = make(stub.endpoint, 10)
        request.addfinalizer(notifier.close)
        results: list[BroadcastResult] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(notifier.broadcast(recipients(25), FRAME))
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.delivered for r in results] == [25] * 8
        assert stub.connections_opened <= 10

    def test_a_caller_inside_its_own_event_loop_can_still_send(
        self, notifier: LoopNotifier, stub: GatewayStub
    ) -> None:
        async def handler_running_in_a_loop() -> None:
            notifier.send(ConnectionId("c-1"), FRAME)

        asyncio.run(handler_running_in_a_loop())
        assert stub.received("c-1") == [FRAME.encode()]


class TestClose:
    def test_close_stops_the_loop_thread_and_refuses_further_calls(
        self, stub: GatewayStub, make: MakeNotifier
    ) -> None:
        notifier = make(stub.endpoint, 50)
        notifier.send(ConnectionId("c-1"), FRAME)
        assert notifier.loop_name in {thread.name for thread in threading.enumerate()}
        notifier.close()
        notifier.close()
        assert notifier.loop_name not in {thread.name for thread in threading.enumerate()}
        with pytest.raises(RuntimeError):
            notifier.send(ConnectionId("c-1"), FRAME)

    def test_close_during_a_broadcast_does_not_leave_its_caller_hanging(
        self, stub: GatewayStub, make: MakeNotifier
    ) -> None:
        stub.post_delay = 0.5
        notifier = make(stub.endpoint, 50)
        outcomes: list[object] = []

        def caller() -> None:
            try:
                outcomes.append(notifier.broadcast(recipients(10), FRAME))
            except BaseException as error:
                outcomes.append(error)

        thread = threading.Thread(target=caller)
        thread.start()
        deadline = time.monotonic() + 5
        while stub.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        notifier.close()
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert len(outcomes) == 1, outcomes

    def test_notifiers_left_open_close_at_exit_without_complaint(self) -> None:
        exited = subprocess.run(
            [sys.executable, "-c", LEFT_OPEN], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert exited.returncode == 0, exited.stderr
        assert "Unclosed" not in exited.stderr
