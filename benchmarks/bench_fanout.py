"""Fan-out through the real PostToConnection adapters against a loopback management API
that takes a fixed time per POST, as API Gateway does: the async adapter's bounded
concurrency against the sync adapter's one-at-a-time baseline."""

from __future__ import annotations

import os

from adapters.async_fanout import AsyncFanoutNotifier
from adapters.post_to_connection import PostToConnectionNotifier, management_client
from benchmarks.timing import Ratio, compare
from domain import frames
from domain.model import ConnectionId
from tests.support.gateway_stub import GatewayStub

RECIPIENTS = [ConnectionId(f"c-{i:04}") for i in range(200)]
POST_DELAY_S = 0.01
FRAME = frames.pong(1_700_000_000_000)


def _fake_credentials() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def fanout_speedup(concurrency: int = 50) -> Ratio:
    _fake_credentials()
    stub = GatewayStub(stage="bench")
    stub.post_delay = POST_DELAY_S
    sync = PostToConnectionNotifier(management_client(stub.endpoint, region="us-east-1"))
    fanout = AsyncFanoutNotifier(stub.endpoint, concurrency=concurrency, region="us-east-1")
    try:
        fanout.broadcast(RECIPIENTS[:1], FRAME)  # the one-time client creation is not fan-out
        return compare(
            f"broadcast to 200 (10 ms/POST), async C={concurrency}",
            lambda: _delivered_all(fanout.broadcast(RECIPIENTS, FRAME)),
            lambda: _delivered_all(sync.broadcast(RECIPIENTS, FRAME)),
            "sync boto3, one at a time",
            repeats=3,
        )
    finally:
        fanout.close()
        stub.close()


def _delivered_all(result: object) -> None:
    delivered = getattr(result, "delivered", None)
    if delivered != len(RECIPIENTS):
        raise RuntimeError(f"benchmark broadcast delivered {delivered} of {len(RECIPIENTS)}")
