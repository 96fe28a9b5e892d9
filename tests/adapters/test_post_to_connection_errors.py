"""How every PostToConnection notifier answers each Management API error, against the stub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from roomcast.adapters.post_to_connection import PostToConnectionNotifier, management_client
from roomcast.domain import frames
from roomcast.domain.errors import ConnectionGone, DeliveryFailed, FailureKind
from roomcast.domain.model import ConnectionId
from tests.support.gateway_stub import HANG_UP, GatewayStub
from tests.support.notifier_harnesses import (
    FAST_RETRY,
    async_fanout,
    boto3_session,
    signed_http,
    start_stub,
)

FRAME = frames.pong(1_700_000_000_000)


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> GatewayStub:
    return start_stub(request)


@pytest.fixture(params=["sync", "async", "signed-http"])
def make_notifier(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    def make(endpoint: str) -> Any:
        if request.param == "async":
            return async_fanout(request, endpoint, "us-east-1")
        if request.param == "signed-http":
            return signed_http(request, endpoint, "us-east-1")
        client = management_client(endpoint, session=boto3_session())
        return PostToConnectionNotifier(client, retry=FAST_RETRY)

    return make


@pytest.fixture
def notifier(make_notifier: Callable[[str], Any], stub: GatewayStub) -> Any:
    return make_notifier(stub.endpoint)


class TestDroppedConnections:
    def test_a_post_on_a_connection_the_server_hung_up_is_retried(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        stub.answer("thawed", HANG_UP, 200)
        result = notifier.broadcast([ConnectionId("thawed")], FRAME)
        assert result.delivered == 1
        assert stub.posts_to("thawed") == 2
        assert stub.received("thawed") == [FRAME.encode()]

    def test_a_server_that_never_answers_fails_after_the_bounded_attempts(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        stub.answer("dead", HANG_UP)
        with pytest.raises(DeliveryFailed, match="ConnectionClosedError") as raised:
            notifier.send(ConnectionId("dead"), FRAME)
        assert raised.value.kind is FailureKind.UNREACHABLE
        assert stub.posts_to("dead") == FAST_RETRY.attempts


class TestThrottling:
    def test_two_429s_then_success_delivers_on_the_third_post(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        stub.answer("busy", 429, 429, 200)
        result = notifier.broadcast([ConnectionId("busy")], FRAME)
        assert result.delivered == 1
        assert stub.posts_to("busy") == 3
        assert stub.received("busy") == [FRAME.encode()]

    def test_endless_429s_fail_after_the_bounded_attempts(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        stub.answer("jammed", 429)
        result = notifier.broadcast([ConnectionId("jammed")], FRAME)
        assert result.delivered == 0
        assert result.failed[ConnectionId("jammed")].kind is FailureKind.RATE_LIMITED
        assert "429" in result.failed[ConnectionId("jammed")].message
        assert stub.posts_to("jammed") == FAST_RETRY.attempts

    def test_send_raises_delivery_failed_when_429s_never_stop(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        stub.answer("jammed", 429)
        with pytest.raises(DeliveryFailed, match="429") as raised:
            notifier.send(ConnectionId("jammed"), FRAME)
        assert raised.value.kind is FailureKind.RATE_LIMITED


class TestErrorTranslation:
    def test_one_broadcast_sorts_gone_healthy_forbidden_too_large_and_broken(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        for connection_id, status in [("gone", 410), ("denied", 403), ("big", 413), ("boom", 500)]:
            stub.answer(connection_id, status)
        everyone = [ConnectionId(c) for c in ["ok-1", "gone", "denied", "big", "boom", "ok-2"]]
        result = notifier.broadcast(everyone, FRAME)
        assert result.delivered == 2
        assert result.gone == frozenset({ConnectionId("gone")})
        kinds = {c.value: failure.kind for c, failure in result.failed.items()}
        assert kinds == {"denied": FailureKind.FORBIDDEN, "big": FailureKind.PAYLOAD_TOO_LARGE,
                         "boom": FailureKind.SERVER_ERROR}
        messages = {c.value: failure.message for c, failure in result.failed.items()}
        assert "403" in messages["denied"]
        assert "413" in messages["big"]
        assert "500" in messages["boom"]

    @pytest.mark.parametrize(("status", "error"), [(410, ConnectionGone), (413, DeliveryFailed)])
    def test_send_raises_the_port_error(
        self, notifier: Any, stub: GatewayStub, status: int, error: type[Exception]
    ) -> None:
        stub.answer("target", status)
        with pytest.raises(error):
            notifier.send(ConnectionId("target"), FRAME)
        assert stub.posts_to("target") == 1

    def test_a_5xx_is_failed_without_a_retry_since_it_may_have_delivered(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        stub.answer("maybe", 500, 200)
        result = notifier.broadcast([ConnectionId("maybe")], FRAME)
        assert result.failed[ConnectionId("maybe")].kind is FailureKind.SERVER_ERROR
        assert "500" in result.failed[ConnectionId("maybe")].message
        assert stub.posts_to("maybe") == 1

    def test_an_unreachable_gateway_fails_each_recipient_without_raising(
        self, make_notifier: Callable[[str], Any], stub: GatewayStub
    ) -> None:
        endpoint = stub.endpoint
        stub.close()
        notifier = make_notifier(endpoint)
        result = notifier.broadcast([ConnectionId("a"), ConnectionId("b")], FRAME)
        assert result.delivered == 0
        assert {c: f.kind for c, f in result.failed.items()} == {
            ConnectionId("a"): FailureKind.UNREACHABLE, ConnectionId("b"): FailureKind.UNREACHABLE,
        }


class TestProbing:
    def test_a_probe_that_fails_keeps_the_connection(
        self, notifier: Any, stub: GatewayStub
    ) -> None:
        stub.answer("unknown", 403)
        assert notifier.find_gone([ConnectionId("unknown")]) == frozenset()

    def test_a_throttled_probe_is_retried(self, notifier: Any, stub: GatewayStub) -> None:
        stub.answer("gone", 429, 410)
        assert notifier.find_gone([ConnectionId("gone")]) == frozenset({ConnectionId("gone")})
