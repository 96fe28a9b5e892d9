"""SignedHttpNotifier's own promises: botocore's signatures, renewed credentials, a bounded pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from unittest.mock import Mock

import aiohttp
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials, RefreshableCredentials
from botocore.utils import percent_encode

from roomcast.adapters.management_api import Unreachable, translate
from roomcast.adapters.signed_http import SignedHttpNotifier, as_botocore_error
from roomcast.adapters.sigv4 import BroadcastSigV4Auth
from roomcast.domain import frames
from roomcast.domain.errors import DeliveryFailed, FailureKind
from roomcast.domain.model import ConnectionId
from tests.support.gateway_stub import GatewayStub
from tests.support.notifier_harnesses import CREDENTIALS, FAST_RETRY, botocore_session, start_stub

FRAME = frames.pong(1_700_000_000_000)
URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/@connections/L0SM9cOFvHcCIhw%3D"


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> GatewayStub:
    return start_stub(request)


class SessionWith(botocore.session.Session):  # type: ignore[misc]
    """A botocore session whose credential chain yields exactly the given credentials."""

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._given = credentials

    def get_credentials(self) -> Any:
        return self._given


def recipients(n: int) -> list[ConnectionId]:
    return [ConnectionId(f"c-{i:04}") for i in range(n)]


def notifier_on(
    request: pytest.FixtureRequest, stub: GatewayStub, session: Any, concurrency: int = 50
) -> SignedHttpNotifier:
    notifier = SignedHttpNotifier(
        stub.endpoint, concurrency, "us-east-1", FAST_RETRY, session=session
    )
    request.addfinalizer(notifier.close)
    return notifier


def botocore_signature(credentials: ReadOnlyCredentials, request: AWSRequest) -> str:
    auth = SigV4Auth(credentials, "execute-api", "eu-west-1")
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    return str(auth.signature(string_to_sign, request))


def requests_of_a_broadcast() -> list[tuple[str, str, bytes]]:
    """Posts of two broadcasts at once (their bodies interleaved) to ids that percent-encoding
    changes, on two hosts, then a probe."""
    ids = ["L0SM9cOFvHcCIhw=", "a+b/c", "ünï cødé", "%41", "x~y_z.-", "L0SM9cOFvHcCIhw"]
    bodies = [b'{"action":"message","message":"h\xc3\xa9"}', b'{"action":"userLeft"}']
    hosts = ["https://abc.execute-api.eu-west-1.amazonaws.com/prod", "http://127.0.0.1:8080/dev"]
    posts = [
        ("POST", f"{host}/@connections/{percent_encode(i)}", body)
        for host in hosts
        for i in ids
        for body in bodies
    ]
    return [*posts, ("GET", f"{hosts[0]}/@connections/{percent_encode(ids[0])}", b"")]


def dated_request(timestamp: str, body: bytes) -> AWSRequest:
    request = AWSRequest(method="POST", url=URL, data=body, headers={"X-Amz-Date": timestamp})
    request.context["timestamp"] = timestamp
    return request


class TestSignature:
    @pytest.mark.parametrize("secret", ["testing", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"])
    def test_the_cached_key_and_hash_sign_exactly_as_botocore_across_days_and_bodies(
        self, secret: str
    ) -> None:
        credentials = ReadOnlyCredentials("AKID", secret, "session-token")
        auth = BroadcastSigV4Auth(credentials, "eu-west-1")
        for timestamp, body in [
            ("20260101T235959Z", b'{"a":1}'),
            ("20260102T000000Z", b'{"a":1}'),
            ("20260102T000001Z", b'{"b":2}'),
            ("20260102T000001Z", b""),
        ]:
            request = dated_request(timestamp, body)
            canonical = auth.canonical_request(request)
            ours = auth.signature(auth.string_to_sign(request, canonical), request)
            assert ours == botocore_signature(credentials, dated_request(timestamp, body))

    @pytest.mark.parametrize(
        "credentials",
        [ReadOnlyCredentials("AKID", "secret", "tok"), ReadOnlyCredentials("AKID", "s/k+", None)],
    )
    def test_every_recipients_headers_are_those_botocores_add_auth_gives(
        self, credentials: ReadOnlyCredentials, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        auth = BroadcastSigV4Auth(credentials, "eu-west-1")
        for moment in (datetime(2026, 1, 1, 23, 59, 59), datetime(2026, 1, 2, 0, 0, 0)):
            monkeypatch.setattr("botocore.auth.get_current_datetime", lambda m=moment: m)
            for method, url, body in requests_of_a_broadcast():
                expected = AWSRequest(method=method, url=url, data=body)
                SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(expected)
                ours = auth.headers_for(method, url, body, moment.strftime("%Y%m%dT%H%M%SZ"))
                assert ours == dict(expected.headers.items()), url

    def test_a_request_signed_with_the_wrong_secret_is_refused(
        self, request: pytest.FixtureRequest, stub: GatewayStub
    ) -> None:
        session = botocore.session.Session()
        session.set_credentials(CREDENTIALS["aws_access_key_id"], "not-the-secret")
        with pytest.raises(DeliveryFailed, match="403") as raised:
            notifier_on(request, stub, session).send(ConnectionId("c-1"), FRAME)
        assert raised.value.kind is FailureKind.FORBIDDEN
        assert stub.received("c-1") == []


class TestCredentials:
    def test_credentials_renewed_during_a_broadcast_sign_the_later_requests(
        self, request: pytest.FixtureRequest, stub: GatewayStub
    ) -> None:
        keys = (f"AKID-{n}" for n in count(1))
        stub.secrets = {f"AKID-{n}": f"secret-{n}" for n in range(1, 1000)}

        def renew() -> dict[str, str]:
            key = next(keys)
            # Inside botocore's advisory refresh window: each read renews them.
            expiry = datetime.now(UTC) + timedelta(minutes=12)
            return {
                "access_key": key,
                "secret_key": "secret-" + key.removeprefix("AKID-"),
                "token": "",
                "expiry_time": expiry.isoformat(),
            }

        session = SessionWith(RefreshableCredentials.create_from_metadata(renew(), renew, "test"))
        everyone = recipients(5)
        result = notifier_on(request, stub, session, concurrency=1).broadcast(everyone, FRAME)
        assert result.delivered == 5
        assert len(set(stub.signed_by)) > 1

    def test_no_credentials_fails_every_recipient_without_sending(
        self, request: pytest.FixtureRequest, stub: GatewayStub
    ) -> None:
        session = SessionWith(None)
        result = notifier_on(request, stub, session).broadcast(recipients(2), FRAME)
        assert set(result.failed) == set(recipients(2))
        assert result.failed[ConnectionId("c-0000")].kind is FailureKind.OTHER
        assert "NoCredentialsError" in result.failed[ConnectionId("c-0000")].message
        assert stub.posts_to("c-0000") == 0


class TestConnectionPool:
    def test_broadcasts_reuse_at_most_concurrency_keep_alive_connections(
        self, request: pytest.FixtureRequest, stub: GatewayStub
    ) -> None:
        stub.post_delay = 0.01
        notifier = notifier_on(request, stub, botocore_session(), concurrency=8)
        for _ in range(2):
            assert notifier.broadcast(recipients(100), FRAME).delivered == 100
        assert 1 < stub.max_in_flight <= 8
        assert stub.connections_opened <= 8


class TestTransportFailures:
    @pytest.mark.parametrize(
        ("failure", "name"),
        [
            (aiohttp.ServerDisconnectedError(), "ConnectionClosedError"),
            (aiohttp.ConnectionTimeoutError(), "ConnectTimeoutError"),
            (aiohttp.ClientConnectorError(Mock(), OSError(111, "no")), "EndpointConnectionError"),
        ],
    )
    def test_failures_before_an_answer_are_retried_under_aiobotocore_names(
        self, failure: Exception, name: str
    ) -> None:
        outcome = translate(as_botocore_error(failure, URL))
        assert isinstance(outcome, Unreachable)
        assert str(outcome).startswith(name)
        timed_out = isinstance(failure, aiohttp.ConnectionTimeoutError)
        assert outcome.kind is (FailureKind.TIMEOUT if timed_out else FailureKind.UNREACHABLE)

    @pytest.mark.parametrize("failure", [aiohttp.SocketTimeoutError(), TimeoutError()])
    def test_a_read_timeout_fails_without_a_retry_since_it_may_have_delivered(
        self, failure: Exception
    ) -> None:
        outcome = translate(as_botocore_error(failure, URL))
        assert isinstance(outcome, DeliveryFailed)
        assert outcome.kind is FailureKind.TIMEOUT
        assert str(outcome).startswith("ReadTimeoutError")
