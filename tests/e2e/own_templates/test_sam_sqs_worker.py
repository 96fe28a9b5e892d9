"""`roomcast serve --template` on a SAM project with an SQS event source (tests/fixtures/
templates/sam_sqs_worker): the queues created on the embedded moto server, the producer's
QUEUE_URL resolved to it, the worker fed by the emulated mapping; a batch item failure is
redelivered after the visibility timeout and dead-lettered after maxReceiveCount."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.own_templates.support import FIXTURES, connect, serving
from tests.e2e.support import async_test, eventually

pytestmark = pytest.mark.e2e

TEMPLATE = FIXTURES / "sam_sqs_worker" / "template.yaml"


def status(gateway: GatewayProcess) -> dict[str, Any]:
    origin = gateway.management_url.rsplit("/", 1)[0]
    with urllib.request.urlopen(f"{origin}/@roomcast/queues", timeout=10) as answer:
        return dict(json.load(answer))


def queue(gateway: GatewayProcess, logical_id: str) -> dict[str, Any]:
    (found,) = [q for q in status(gateway)["queues"] if q["logicalId"] == logical_id]
    return found


@async_test
async def test_the_worker_gets_the_queued_work_and_a_failed_record_ends_dead_lettered() -> None:
    with serving(TEMPLATE) as gateway:
        assert any("Jobs -> Consumer (http://127.0.0.1:" in line for line in gateway.output)
        async with connect(gateway) as client:
            await client.send("hello")
            assert await client.recv() == "got hello"
            await client.send("fail")
            # Visibility 2 s, maxReceiveCount 2: received twice, then moved by the queue.
            await eventually(lambda: queue(gateway, "Dead")["visible"] == 1, timeout=20)
        (mapping,) = status(gateway)["mappings"]
        assert mapping["function"] == "Consumer"
        assert mapping["records"] == 3
        assert mapping["failedRecords"] == 2
        assert queue(gateway, "Jobs")["visible"] == 0
