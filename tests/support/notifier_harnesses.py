"""Notifier harnesses for the contract matrix: the fake, the local gateway's in-process
notifier, and the PostToConnection adapters against the stub gateway and moto.

A harness holds `notifier` and drives its world: `mark_gone`, `mark_failing` (raising
when its world cannot), and `received`, the frames that reached a connection.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import boto3
import botocore.session
import pytest
from aiobotocore.session import AioSession

from roomcast.adapters import async_fanout as async_fanout_module
from roomcast.adapters import post_to_connection as post_to_connection_module
from roomcast.adapters import signed_http as signed_http_module
from roomcast.adapters.async_fanout import AsyncFanoutNotifier
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.management_api import RetryPolicy, client_settings
from roomcast.adapters.post_to_connection import PostToConnectionNotifier, management_client
from roomcast.adapters.signed_http import SignedHttpNotifier
from roomcast.domain.errors import FailureKind
from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.gateway.connections import ConnectionRegistry, LiveConnection
from roomcast.entrypoints.gateway.inprocess import InProcessNotifier
from roomcast.entrypoints.gateway.proxy_events import Caller
from roomcast.entrypoints.gateway.state import GatewayLimits
from tests.support import moto_gateway
from tests.support.gateway_stub import HANG_UP, STALL, GatewayStub

FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.01)
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SECRETS = {CREDENTIALS["aws_access_key_id"]: CREDENTIALS["aws_secret_access_key"]}
STUB_REGION = "us-east-1"
# What the stub answers, every time, to fail a connection with each fault the contract names.
FAULT_STATUSES = {
    "429": 429, "413": 413, "403": 403, "500": 500, "503": 503,
    "timeout": STALL, "hang-up": HANG_UP,
}
QUICK_READ_TIMEOUT = 1.0  # seconds; the stub stalls for longer (GatewayStub.stall_seconds)


def boto3_session() -> boto3.Session:
    return boto3.Session(**CREDENTIALS, region_name=STUB_REGION)


def aio_session() -> AioSession:
    session = AioSession()
    session.set_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    return session


def botocore_session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.set_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    return session


# The fake has no HTTP underneath: it is told the kind each fault is.
FAKE_FAULT_KINDS = {
    "429": FailureKind.RATE_LIMITED, "413": FailureKind.PAYLOAD_TOO_LARGE,
    "403": FailureKind.FORBIDDEN, "500": FailureKind.SERVER_ERROR,
    "503": FailureKind.SERVER_ERROR, "timeout": FailureKind.TIMEOUT,
    "hang-up": FailureKind.UNREACHABLE,
}


class FakeNotifierHarness:
    """Drives a notifier's world: who is gone, who fails, what arrived where."""

    def __init__(self) -> None:
        self.notifier = FakeNotifier()

    def mark_gone(self, connection_id: Any) -> None:
        self.notifier.mark_gone(connection_id)

    def mark_failing(self, connection_id: Any) -> None:
        self.notifier.mark_failing(connection_id, FailureKind.FORBIDDEN)

    def inject(self, connection_id: Any, fault: str) -> None:
        self.notifier.mark_failing(connection_id, FAKE_FAULT_KINDS[fault])

    def received(self, connection_id: Any) -> list[dict[str, Any]]:
        return self.notifier.frames_for(connection_id)


class _RecordingSocket:
    """What a live connection writes to: the frames, in order, as its client reads them."""

    closed = False

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def send_frame(self, data: bytes, opcode: object) -> None:
        self.frames.append(data)


class _EveryIdConnected(ConnectionRegistry):
    """The gateway's registry in which every id a test names is an open connection, as
    every id is to the stub and to moto, until the test closes it."""

    def __init__(self, max_outbound_bytes: int) -> None:
        super().__init__()
        self._max_outbound_bytes = max_outbound_bytes
        self._opened: dict[str, tuple[LiveConnection, _RecordingSocket]] = {}

    def open_connection(self, connection_id: str) -> LiveConnection | None:
        self.connect(connection_id)
        return super().open_connection(connection_id)

    def partition(self, connection_ids: Iterable[str]) -> tuple[list[LiveConnection], list[str]]:
        named = list(connection_ids)
        for connection_id in named:
            self.connect(connection_id)
        return super().partition(named)

    def connect(self, connection_id: str) -> LiveConnection:
        """The connection with this id, opened the first time a test or the notifier asks."""
        if connection_id not in self._opened:
            socket = _RecordingSocket()
            caller = Caller(connection_id, 1_700_000_000_000, "127.0.0.1", "pytest")
            live = LiveConnection(caller, socket, None, self._max_outbound_bytes)  # type: ignore[arg-type]
            self._opened[connection_id] = (live, socket)
            self.add(live)
        return self._opened[connection_id][0]

    def written(self, connection_id: str) -> list[bytes]:
        """What was written to the connection's socket; nothing if it was never opened."""
        opened = self._opened.get(connection_id)
        return list(opened[1].frames) if opened else []


class InProcessHarness:
    """The local gateway's notifier, called from the test's thread as from a handler's,
    over live connections whose frames its event loop (a thread here) writes out.

    A gone connection is one its client closed. Nothing between this notifier and the
    socket answers 403: it fails a frame over the post limit, never one connection, so
    `mark_failing` has no world to steer (see CANNOT_FAIL_ONE_CONNECTION in conftest.py).
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        limits = GatewayLimits()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="inprocess-harness-loop", daemon=True
        )
        self._thread.start()
        request.addfinalizer(self._stop)
        self.connections = _EveryIdConnected(limits.max_outbound_bytes)
        self.notifier = InProcessNotifier(self.connections, self._loop, limits.max_post_bytes)

    def mark_gone(self, connection_id: ConnectionId) -> None:
        self.connections.connect(connection_id.value).closed_by_client(1000, "")

    def mark_failing(self, connection_id: ConnectionId) -> None:
        raise AssertionError(
            "the in-process notifier never fails one connection: this test belongs to the "
            "fault contract"
        )

    def received(self, connection_id: ConnectionId) -> list[dict[str, Any]]:
        self._written_out()
        return [json.loads(frame) for frame in self.connections.written(connection_id.value)]

    def _written_out(self) -> None:
        """Wait until the loop has run every hand-over so far and the outboxes are empty."""
        asyncio.run_coroutine_threadsafe(self._drained(), self._loop).result(timeout=10)

    async def _drained(self) -> None:
        while any(c.outbox.pending_bytes for c in self.connections.all()):
            await asyncio.sleep(0)

    def _stop(self) -> None:
        self._written_out()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


class StubHarness:
    """A notifier aimed at a GatewayStub that answers 410 or 403 where told."""

    def __init__(self, notifier: Any, stub: GatewayStub) -> None:
        self.notifier = notifier
        self.stub = stub

    def mark_gone(self, connection_id: ConnectionId) -> None:
        self.stub.answer(connection_id.value, 410)

    def mark_failing(self, connection_id: ConnectionId) -> None:
        self.stub.answer(connection_id.value, 403)

    def inject(self, connection_id: ConnectionId, fault: str) -> None:
        self.stub.answer(connection_id.value, FAULT_STATUSES[fault])

    def received(self, connection_id: ConnectionId) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.stub.received(connection_id.value)]


class MotoHarness:
    """A notifier aimed at moto, which accepts every connection id and never answers an error."""

    def __init__(self, notifier: Any) -> None:
        self.notifier = notifier

    def mark_gone(self, connection_id: ConnectionId) -> None:
        raise AssertionError("moto never answers 410: this test belongs to the fault contract")

    def mark_failing(self, connection_id: ConnectionId) -> None:
        raise AssertionError("moto never answers 403: this test belongs to the fault contract")

    def inject(self, connection_id: ConnectionId, fault: str) -> None:
        raise AssertionError("moto never fails a post: this test belongs to the fault contract")

    def received(self, connection_id: ConnectionId) -> list[dict[str, Any]]:
        return moto_gateway.frames_posted(connection_id.value)


def quick_read_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Notifiers built from now on give up reading an answer after QUICK_READ_TIMEOUT, so a
    test can meet a read timeout without waiting out the real one."""

    def quick(max_pool_connections: int = 10) -> dict[str, Any]:
        return {**client_settings(max_pool_connections), "read_timeout": QUICK_READ_TIMEOUT}

    for module in (post_to_connection_module, async_fanout_module, signed_http_module):
        monkeypatch.setattr(module, "client_settings", quick)


def start_stub(request: pytest.FixtureRequest) -> GatewayStub:
    """A stub that, like API Gateway, refuses a request not signed with CREDENTIALS."""
    stub = GatewayStub(secrets=SECRETS)
    request.addfinalizer(stub.close)
    return stub


def async_fanout(request: pytest.FixtureRequest, endpoint: str, region: str) -> AsyncFanoutNotifier:
    notifier = AsyncFanoutNotifier(endpoint, region=region, retry=FAST_RETRY, session=aio_session())
    request.addfinalizer(notifier.close)
    return notifier


def signed_http(request: pytest.FixtureRequest, endpoint: str, region: str) -> SignedHttpNotifier:
    notifier = SignedHttpNotifier(
        endpoint, region=region, retry=FAST_RETRY, session=botocore_session()
    )
    request.addfinalizer(notifier.close)
    return notifier


def _post_to_connection_stub(request: pytest.FixtureRequest) -> StubHarness:
    stub = start_stub(request)
    client = management_client(stub.endpoint, session=boto3_session())
    return StubHarness(PostToConnectionNotifier(client, retry=FAST_RETRY), stub)


def _async_fanout_stub(request: pytest.FixtureRequest) -> StubHarness:
    stub = start_stub(request)
    return StubHarness(async_fanout(request, stub.endpoint, STUB_REGION), stub)


def _signed_http_stub(request: pytest.FixtureRequest) -> StubHarness:
    stub = start_stub(request)
    return StubHarness(signed_http(request, stub.endpoint, STUB_REGION), stub)


def _post_to_connection_moto(request: pytest.FixtureRequest) -> MotoHarness:
    moto_gateway.start_mock_aws(request)
    moto_gateway.forget_posts(request)
    client = management_client(moto_gateway.IN_PROCESS_ENDPOINT, session=boto3_session())
    return MotoHarness(PostToConnectionNotifier(client, retry=FAST_RETRY))


def _post_to_connection_moto_server(request: pytest.FixtureRequest) -> MotoHarness:
    endpoint = moto_gateway.threaded_moto_url(request.config)
    moto_gateway.forget_posts(request)
    client = management_client(endpoint, moto_gateway.REGION, session=boto3_session())
    return MotoHarness(PostToConnectionNotifier(client, retry=FAST_RETRY))


def _async_fanout_moto_server(request: pytest.FixtureRequest) -> MotoHarness:
    endpoint = moto_gateway.threaded_moto_url(request.config)
    moto_gateway.forget_posts(request)
    return MotoHarness(async_fanout(request, endpoint, moto_gateway.REGION))


def _signed_http_moto_server(request: pytest.FixtureRequest) -> MotoHarness:
    endpoint = moto_gateway.threaded_moto_url(request.config)
    moto_gateway.forget_posts(request)
    return MotoHarness(signed_http(request, endpoint, moto_gateway.REGION))


NotifierFactory = Callable[[pytest.FixtureRequest], Any]

# aiobotocore cannot run under moto in-process (moto hands back a synchronous response:
# aio-libs/aiobotocore#1320, getmoto/moto#8694), and moto in-process patches botocore's HTTP
# layer, which the signed-http adapter does not use (it sends over aiohttp): both meet moto
# over HTTP only.
FAULT_INJECTING_HARNESSES: dict[str, NotifierFactory] = {
    "post-to-connection-stub": _post_to_connection_stub,
    "async-fanout-stub": _async_fanout_stub,
    "signed-http-stub": _signed_http_stub,
}
MOTO_HARNESSES: dict[str, NotifierFactory] = {
    "post-to-connection-moto": _post_to_connection_moto,
    "post-to-connection-moto-server": _post_to_connection_moto_server,
    "async-fanout-moto-server": _async_fanout_moto_server,
    "signed-http-moto-server": _signed_http_moto_server,
}
