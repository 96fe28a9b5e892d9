"""SignedHttpNotifier's own promises: botocore's signatures, renewed credentials, a bounded pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials, RefreshableCredentials

from adapters.signed_http import SignedHttpNotifier
from adapters.sigv4 import BroadcastSigV4Auth
from domain import frames
from domain.errors import DeliveryFailed
from domain.model import ConnectionId
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

    def test_signed_headers_verify_with_botocore_as_api_gateway_would(self) -> None:
        auth = BroadcastSigV4Auth(ReadOnlyCredentials("AKID", "secret", "tok"), "eu-west-1")
        headers = auth.headers_for("POST", URL, b'{"a":1}')
        assert headers["X-Amz-Security-Token"] == "tok"
        request = dated_request(headers["X-Amz-Date"], b'{"a":1}')
        request.headers["X-Amz-Security-Token"] = "tok"
        expected = botocore_signature(ReadOnlyCredentials("AKID", "secret", "tok"), request)
        assert headers["Authorization"].endswith(f"Signature={expected}")

    def test_a_request_signed_with_the_wrong_secret_is_refused(
        self, request: pytest.FixtureRequest, stub: GatewayStub
    ) -> None:
        session = botocore.session.Session()
        session.set_credentials(CREDENTIALS["aws_access_key_id"], "not-the-secret")
        with pytest.raises(DeliveryFailed, match="403"):
            notifier_on(request, stub, session).send(ConnectionId("c-1"), FRAME)
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
        assert "NoCredentialsError" in result.failed[ConnectionId("c-0000")]
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
