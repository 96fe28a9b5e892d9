"""SignedHttpNotifier's two transports keep one contract: urllib3 for its first posts, then
aiohttp, chosen without importing aiohttp until a call would post past the urllib3 budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from roomcast.adapters.signed_http import SignedHttpNotifier
from roomcast.domain import frames
from roomcast.domain.errors import FailureKind
from roomcast.domain.model import ConnectionId
from tests.contract.test_notifier_contract import FAULTS
from tests.support.gateway_stub import HANG_UP, GatewayStub
from tests.support.notifier_harnesses import (
    FAST_RETRY,
    FAULT_STATUSES,
    botocore_session,
    quick_read_timeouts,
    start_stub,
)

FRAME = frames.pong(1_700_000_000_000)
ROOT = Path(__file__).resolve().parents[2]
URLLIB3_POSTS = {"urllib3": 10**9, "aiohttp": 0}
SWITCH = """
import sys
from roomcast.domain import frames
from roomcast.domain.model import ConnectionId
from tests.support.gateway_stub import GatewayStub
from botocore.session import Session
from roomcast.adapters.signed_http import SignedHttpNotifier
stub = GatewayStub()
session = Session()
session.set_credentials("testing", "testing")
notifier = SignedHttpNotifier(stub.endpoint, 4, "us-east-1", session=session, urllib3_posts=5)
ids = [ConnectionId(f"c-{i}") for i in range(3)]
for _ in range(2):
    print(notifier.broadcast(ids, frames.pong(1)).delivered, "aiohttp" in sys.modules)
notifier.close()
stub.close()
"""


def recipients(count: int) -> list[ConnectionId]:
    return [ConnectionId(f"c-{i:04}") for i in range(count)]


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> GatewayStub:
    return start_stub(request)


@pytest.fixture(params=sorted(URLLIB3_POSTS))
def make(request: pytest.FixtureRequest, stub: GatewayStub) -> SignedHttpNotifier:
    notifier = SignedHttpNotifier(
        stub.endpoint, 8, "us-east-1", FAST_RETRY, botocore_session(),
        urllib3_posts=URLLIB3_POSTS[request.param],
    )
    request.addfinalizer(notifier.close)
    return notifier


class TestEitherTransport:
    def test_gone_forbidden_broken_and_healthy_are_sorted_apart(
        self, make: SignedHttpNotifier, stub: GatewayStub
    ) -> None:
        for connection_id, status in (("gone", 410), ("forbidden", 403), ("broken", 500)):
            stub.answer(connection_id, status)
        ids = [ConnectionId(c) for c in ("gone", "forbidden", "broken", "fine")]
        result = make.broadcast(ids, FRAME)
        assert (result.delivered, result.gone) == (1, frozenset({ConnectionId("gone")}))
        assert {c: f.kind for c, f in result.failed.items()} == {
            ConnectionId("forbidden"): FailureKind.FORBIDDEN,
            ConnectionId("broken"): FailureKind.SERVER_ERROR,
        }
        assert "forbidden (403)" in result.failed[ConnectionId("forbidden")].message
        assert stub.posts_to("broken") == 1

    def test_every_fault_is_reported_as_its_kind(
        self, make: SignedHttpNotifier, stub: GatewayStub, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        quick_read_timeouts(monkeypatch)  # read when the transport opens, at the first post
        for fault, status in FAULT_STATUSES.items():
            stub.answer(f"bad-{fault}", status)
        result = make.broadcast([ConnectionId(f"bad-{fault}") for fault in FAULTS], FRAME)
        assert {c.value: f.kind for c, f in result.failed.items()} == {
            f"bad-{fault}": kind for fault, kind in FAULTS.items()
        }

    def test_a_hang_up_and_429s_are_retried_until_delivered(
        self, make: SignedHttpNotifier, stub: GatewayStub
    ) -> None:
        stub.answer("thawed", HANG_UP, 200)
        stub.answer("busy", 429, 429, 200)
        result = make.broadcast([ConnectionId("thawed"), ConnectionId("busy")], FRAME)
        assert result.delivered == 2
        assert (stub.posts_to("thawed"), stub.posts_to("busy")) == (2, 3)

    def test_posts_in_flight_and_connections_stay_within_concurrency(
        self, make: SignedHttpNotifier, stub: GatewayStub
    ) -> None:
        stub.post_delay = 0.01
        for _ in range(2):
            assert make.broadcast(recipients(60), FRAME).delivered == 60
        assert 1 < stub.max_in_flight <= 8
        assert stub.connections_opened <= 8

    def test_probes_find_exactly_the_gone_connections(
        self, make: SignedHttpNotifier, stub: GatewayStub
    ) -> None:
        stub.answer("c-0001", 410)
        assert make.find_gone(recipients(3)) == frozenset({ConnectionId("c-0001")})


class TestChoosingTheTransport:
    def test_aiohttp_is_imported_only_by_a_call_posting_past_the_urllib3_budget(self) -> None:
        switched = subprocess.run(
            [sys.executable, "-c", SWITCH], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert switched.returncode == 0, switched.stderr
        assert switched.stdout.split("\n")[:2] == ["3 False", "3 True"]
