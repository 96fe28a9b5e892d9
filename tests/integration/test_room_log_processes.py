"""One room across processes: four Lambda-like processes send into one room at once, through
the real handlers, on one DynamoDB table (moto_server), while others join it: no seq is
shared or skipped, and every joiner gets every message after its joinedRoom's seq, though
each process sends to the member list it keeps until the room's membership version moves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.dynamodb_tables import FAKE_AWS_ENVIRONMENT, REGION, create_table
from tests.support.gateway_stub import GatewayStub
from tests.support.moto_server import moto_server_url

ROOT = Path(__file__).resolve().parents[2]
SENDERS, MESSAGES_EACH = 4, 25
ROOM = "busy"

# Each process is one execution environment: its own container, store, log and notifier.
SENDER = """
import json, sys
from roomcast.entrypoints.aws_lambda import handlers
from tests.support.events import connect_event, message_event

name, count = sys.argv[1], int(sys.argv[2])
connection = f"conn-{name}"
handlers.connect(connect_event(connection, {"userId": name}), None)
handlers.message(message_event(connection, {"action": "joinRoom", "roomId": "busy"}), None)
print("joined", flush=True)
sys.stdin.readline()  # every sender starts sending at once
for i in range(count):
    frame = {"action": "sendMessage", "roomId": "busy", "message": f"{name}-{i}"}
    answer = handlers.message(message_event(connection, frame), None)
    assert answer["statusCode"] == 200, answer
"""

# A late joiner: connects, then joins once the senders are under way.
JOINER = """
import sys, time
from roomcast.entrypoints.aws_lambda import handlers
from tests.support.events import connect_event, message_event

name, delay = sys.argv[1], float(sys.argv[2])
connection = f"conn-{name}"
handlers.connect(connect_event(connection, {"userId": name}), None)
print("joined", flush=True)
sys.stdin.readline()
time.sleep(delay)
join = {"action": "joinRoom", "roomId": "busy"}
assert handlers.message(message_event(connection, join), None)["statusCode"] == 200
"""
JOINER_DELAYS = (0.3, 0.8, 1.5)


@pytest.fixture
def table(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    endpoint = moto_server_url(request.config)
    name = f"roomcast-processes-{uuid.uuid4().hex}"
    client = boto3.client(
        "dynamodb", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    create_table(client, name)
    yield {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "CONNECTIONS_TABLE": name}
    client.delete_table(TableName=name)


@pytest.fixture
def stub() -> Iterator[GatewayStub]:
    gateway = GatewayStub()
    yield gateway
    gateway.close()


def wait_until_joined(sender: subprocess.Popen[str]) -> None:
    """Its stdout also carries the handlers' EMF lines: read up to the marker."""
    assert sender.stdout is not None
    for line in sender.stdout:
        if line == "joined\n":
            return
    raise AssertionError(f"a sender did not join: {sender.communicate()[1]}")


def test_four_processes_sending_into_one_room_get_consecutive_unique_seqs(
    table: dict[str, str], stub: GatewayStub
) -> None:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ROOMCAST_", "AWS_"))},
        **FAKE_AWS_ENVIRONMENT, **table,
        "ROOMCAST_STORE": "dynamodb", "WEBSOCKET_ENDPOINT": stub.endpoint,
    }
    def process(*arguments: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", *arguments], cwd=ROOT, env=environ, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    senders = [process(SENDER, f"s{n}", str(MESSAGES_EACH)) for n in range(SENDERS)]
    joiners = [process(JOINER, f"j{n}", str(d)) for n, d in enumerate(JOINER_DELAYS)]
    senders += joiners
    for sender in senders:
        wait_until_joined(sender)
    for sender in senders:
        assert sender.stdin is not None
        sender.stdin.write("go\n")
        sender.stdin.flush()
    for sender in senders:
        _, errors = sender.communicate(timeout=240)
        assert sender.returncode == 0, errors

    seq_of: dict[str, int] = {}
    for n in range(SENDERS):
        for raw in stub.received(f"conn-s{n}"):
            frame = json.loads(raw)
            if frame["action"] == "message":
                assert seq_of.setdefault(frame["message"], frame["seq"]) == frame["seq"]
    total = SENDERS * MESSAGES_EACH
    assert len(seq_of) == total
    assert sorted(seq_of.values()) == list(range(1, total + 1))
    for n in range(SENDERS):  # each sender's own messages in the order it sent them
        own = [seq_of[f"s{n}-{i}"] for i in range(MESSAGES_EACH)]
        assert own == sorted(own)
    for n in range(len(JOINER_DELAYS)):
        frames = [json.loads(raw) for raw in stub.received(f"conn-j{n}")]
        [joined] = [f for f in frames if f["action"] == "joinedRoom"]
        heard = {f["seq"] for f in frames if f["action"] == "message"}
        assert set(range(joined["seq"] + 1, total + 1)) <= heard, (n, joined["seq"])
