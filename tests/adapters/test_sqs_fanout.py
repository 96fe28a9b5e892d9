"""The SQS fan-out queue and the DynamoDB work ledger, on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_ledger import REMEMBER_SECONDS, DynamoDBWorkLedger
from roomcast.adapters.sqs_fanout import MAX_BATCH_ENTRIES, SqsFanoutQueue
from roomcast.domain.fanout import Shard
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId, RoomId
from tests.support.dynamodb_tables import REGION, dynamodb_table, fake_aws_environment


def shard(number: int, recipients: int = 3, text: str = "hi") -> Shard:
    ids = tuple(ConnectionId(f"c{number}-{n}") for n in range(recipients))
    return Shard(f"w-{number}", RoomId("room"), Frame({"action": "message", "message": text}), ids)


@pytest.fixture
def sqs(request: pytest.FixtureRequest) -> Any:
    fake_aws_environment(request)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName="fanout")["QueueUrl"])


def queued(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300,
        MessageSystemAttributeNames=["All"],
    ).get("Messages", []):
        found.extend(batch)
    return found


class CountingClient:
    """The real client, counting SendMessageBatch calls and their entries."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.batches: list[int] = []

    def send_message_batch(self, **request: Any) -> Any:
        self.batches.append(len(request["Entries"]))
        return self._client.send_message_batch(**request)


class TestSqsFanoutQueue:
    def test_shards_go_ten_to_a_batch_and_come_back_whole(self, sqs, queue_url):
        client = CountingClient(sqs)
        shards = [shard(n) for n in range(25)]
        assert SqsFanoutQueue(client, queue_url).enqueue(shards) == []
        assert client.batches == [MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES, 5]
        bodies = sorted((Shard.from_json(m["Body"]) for m in queued(sqs, queue_url)),
                        key=lambda s: int(s.work_id.split("-")[1]))
        assert bodies == shards

    def test_a_shard_over_the_body_limit_is_queued_as_halves_that_cover_it(
        self, sqs, queue_url
    ):
        big = shard(1, recipients=40)
        limit = len(big.to_json().encode()) // 3
        assert SqsFanoutQueue(sqs, queue_url, max_body_bytes=limit).enqueue([big]) == []
        parts = [Shard.from_json(m["Body"]) for m in queued(sqs, queue_url)]
        assert len(parts) >= 4
        assert all(len(p.to_json().encode()) <= limit for p in parts)
        covered = sorted(c for p in parts for c in p.recipients)
        assert covered == sorted(big.recipients)
        assert len({p.work_id for p in parts}) == len(parts)

    def test_a_batch_is_cut_before_its_bytes_pass_the_limit(self, sqs, queue_url):
        client = CountingClient(sqs)
        shards = [shard(n, recipients=5) for n in range(4)]
        limit = 2 * len(shards[0].to_json().encode()) + 10
        SqsFanoutQueue(client, queue_url, max_body_bytes=limit).enqueue(shards)
        assert client.batches == [2, 2]

    def test_a_delay_is_asked_of_sqs(self, sqs, queue_url):
        client = CountingClient(sqs)
        sent: list[Any] = []
        original = client.send_message_batch

        def spy(**request: Any) -> Any:
            sent.extend(request["Entries"])
            return original(**request)

        client.send_message_batch = spy
        SqsFanoutQueue(client, queue_url).enqueue([shard(1)], delay_seconds=8)
        assert [e["DelaySeconds"] for e in sent] == [8]


class ScriptedClient:
    """Answers SendMessageBatch from a script: one answer (or exception) per call."""

    def __init__(self, *answers: Any) -> None:
        self._answers = list(answers)
        self.calls: list[list[str]] = []

    def send_message_batch(self, **request: Any) -> Any:
        self.calls.append([e["Id"] for e in request["Entries"]])
        answer = self._answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class TestWhenSqsFails:
    def test_entries_sqs_failed_on_its_side_are_sent_again(self):
        client = ScriptedClient(
            {"Successful": [{"Id": "0"}], "Failed": [{"Id": "1", "SenderFault": False,
                                                      "Code": "InternalError"}]},
            {"Successful": [{"Id": "1"}], "Failed": []},
        )
        assert SqsFanoutQueue(client, "url").enqueue([shard(1), shard(2)]) == []
        assert client.calls == [["0", "1"], ["1"]]

    def test_entries_refused_as_the_senders_fault_come_back_at_once(self):
        client = ScriptedClient(
            {"Successful": [{"Id": "1"}], "Failed": [{"Id": "0", "SenderFault": True,
                                                      "Code": "InvalidMessageContents"}]},
        )
        first, second = shard(1), shard(2)
        assert SqsFanoutQueue(client, "url").enqueue([first, second]) == [first]
        assert len(client.calls) == 1

    def test_a_queue_that_cannot_be_reached_gives_every_shard_back(self):
        client = ScriptedClient(ConnectionError("no route"))
        shards = [shard(1), shard(2)]
        assert SqsFanoutQueue(client, "url").enqueue(shards) == shards

    def test_entries_that_keep_failing_come_back_after_the_last_attempt(self):
        failing = {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False}]}
        client = ScriptedClient(failing, failing, failing)
        only = shard(1)
        assert SqsFanoutQueue(client, "url").enqueue([only]) == [only]
        assert len(client.calls) == 3


class TestDynamoDBWorkLedger:
    @pytest.fixture
    def ledger(self, request: pytest.FixtureRequest) -> DynamoDBWorkLedger:
        table = dynamodb_table(request, "moto")
        self.table = table
        return DynamoDBWorkLedger(table.client, table.name, FixedClock(1_700_000_000_000))

    def test_a_work_item_is_done_once_marked(self, ledger):
        assert not ledger.is_done("w-1")
        ledger.mark_done("w-1")
        assert ledger.is_done("w-1")
        assert not ledger.is_done("w-2")

    def test_the_mark_expires_by_the_tables_ttl(self, ledger):
        ledger.mark_done("w-1")
        item = self.table.client.get_item(
            TableName=self.table.name, Key={"pk": {"S": "WORK#w-1"}, "sk": {"S": "DONE"}}
        )["Item"]
        assert json.loads(item["expiresAt"]["N"]) == 1_700_000_000 + REMEMBER_SECONDS
