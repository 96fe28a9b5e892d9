"""Notifier harnesses for the PostToConnection adapters, against the stub gateway and moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import pytest
from aiobotocore.session import AioSession

from roomcast.adapters import async_fanout as async_fanout_module
from roomcast.adapters import post_to_connection as post_to_connection_module
from roomcast.adapters import signed_http as signed_http_module
from roomcast.adapters.async_fanout import AsyncFanoutNotifier
from roomcast.adapters.management_api import RetryPolicy, client_settings
from roomcast.adapters.post_to_connection import PostToConnectionNotifier, management_client
from roomcast.adapters.signed_http import SignedHttpNotifier
from roomcast.domain.model import ConnectionId
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
