"""A room past the shard size through the Lambda handlers and SQS (moto): the sender's
invocation posts the first shard, the deliver handler takes the rest off the queue as the
event source mapping hands them over, and every member hears each message exactly once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.aws_lambda.events import MalformedEvent
from roomcast.entrypoints.containers import Container, reset_container
from roomcast.entrypoints.settings import ConfigurationError
from tests.integration.harness import Gateway
from tests.support import events
from tests.support.events import REGION

SHARD_SIZE = 4
ROOM = "auditorium"


@pytest.fixture
def queue_url(aws: None) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    return str(sqs.create_queue(QueueName="roomcast-fanout")["QueueUrl"])


@pytest.fixture
def sharded(environment: pytest.MonkeyPatch, queue_url: str) -> str:
    environment.setenv("FANOUT_QUEUE_URL", queue_url)
    environment.setenv("ROOMCAST_FANOUT_SHARD_SIZE", str(SHARD_SIZE))
    environment.setenv("WEBSOCKET_ENDPOINT", events.ENDPOINT)
    return queue_url


def received(queue_url: str) -> list[dict[str, Any]]:
    """Every message waiting on the queue, as an event source mapping would receive them
    (received, so invisible until deleted or their visibility timeout passes)."""
    sqs = boto3.client("sqs", region_name=REGION)
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
    ).get("Messages", []):
        found.extend(batch)
    return found


def sqs_event(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [
        {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
         "eventSource": "aws:sqs", "awsRegion": REGION} for m in messages
    ]}


def deliver_all(queue_url: str) -> int:
    """Play the event source mapping until the queue is empty; how many items it handed."""
    sqs = boto3.client("sqs", region_name=REGION)
    handed = 0
    while waiting := received(queue_url):
        for message in waiting:
            answer = handlers.deliver(sqs_event(message), None)
            assert answer == {"batchItemFailures": []}
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            handed += 1
    return handed


def room_of(gateway: Gateway, size: int) -> list[str]:
    members = [gateway.connect(f"user{n}") for n in range(size)]
    for connection_id in members:
        assert gateway.join(connection_id, ROOM)["statusCode"] == 200
    return members


def messages_heard(gateway: Gateway, members: list[str]) -> Counter[tuple[str, int]]:
    heard: Counter[tuple[str, int]] = Counter()
    for connection_id in members:
        for frame in gateway.new_frames(connection_id):
            if frame["action"] == "message":
                heard[(connection_id, frame["seq"])] += 1
    return heard


def say(gateway: Gateway, connection_id: str, text: str) -> None:
    frame = {"action": "sendMessage", "roomId": ROOM, "message": text}
    assert gateway.send(connection_id, frame) == {"statusCode": 200, "body": "Message sent"}


class TestThroughSqs:
    def test_every_member_hears_every_message_exactly_once(
        self, sharded: str, gateway: Gateway, deployed: Container
    ) -> None:
        members = room_of(gateway, 3 * SHARD_SIZE + 1)
        deliver_all(sharded)  # the joins' userJoined
        for member in members:
            gateway.new_frames(member)
        say(gateway, members[0], "one")
        say(gateway, members[-1], "two")
        assert deliver_all(sharded) == 6  # 3 shards past the first, per message
        heard = messages_heard(gateway, members)
        assert heard == Counter({(m, seq): 1 for m in members for seq in (1, 2)})

    def test_a_redelivered_work_item_reaches_nobody_twice(
        self, sharded: str, gateway: Gateway, deployed: Container
    ) -> None:
        members = room_of(gateway, 2 * SHARD_SIZE)
        deliver_all(sharded)
        for member in members:
            gateway.new_frames(member)
        say(gateway, members[0], "once")
        (item,) = received(sharded)
        for _ in range(3):  # SQS delivers at least once
            assert handlers.deliver(sqs_event(item), None) == {"batchItemFailures": []}
        heard = messages_heard(gateway, members)
        assert heard == Counter({(m, 1): 1 for m in members})

    def test_a_body_roomcast_did_not_write_is_reported_failed_alone(
        self, sharded: str, gateway: Gateway, deployed: Container
    ) -> None:
        members = room_of(gateway, 2 * SHARD_SIZE)
        deliver_all(sharded)
        say(gateway, members[0], "good")
        (good,) = received(sharded)
        bad = {"MessageId": "bad-1", "ReceiptHandle": "r", "Body": '{"not": "a shard"}'}
        answer = handlers.deliver(sqs_event(bad, good), None)
        assert answer == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}

    def test_a_malformed_event_fails_the_whole_invocation(
        self, sharded: str, deployed: Container
    ) -> None:
        with pytest.raises(MalformedEvent, match="list of Records"):
            handlers.deliver({"not": "sqs"}, None)

    def test_the_deliver_function_needs_the_management_endpoint(
        self, sharded: str, environment: pytest.MonkeyPatch, deployed: Container
    ) -> None:
        environment.delenv("WEBSOCKET_ENDPOINT")
        reset_container()
        with pytest.raises(ConfigurationError, match="WEBSOCKET_ENDPOINT"):
            handlers.deliver({"Records": []}, None)


class TestGoneMembersInAShard:
    def test_are_removed_and_the_room_hears_they_left(
        self, sharded: str, faked_gateway: Gateway, faked: Container,
        fake_notifier: FakeNotifier,
    ) -> None:
        members = room_of(faked_gateway, 2 * SHARD_SIZE)
        deliver_all(sharded)
        for member in members:
            faked_gateway.new_frames(member)
        fake_notifier.mark_gone(ConnectionId(members[-1]))
        say(faked_gateway, members[0], "still there?")
        deliver_all(sharded)
        assert faked.store().get(ConnectionId(members[-1])) is None
        left = [f for f in faked_gateway.new_frames(members[1]) if f["action"] == "userLeft"]
        assert [f["userId"] for f in left] == [f"user{2 * SHARD_SIZE - 1}"]


def test_work_items_carry_the_frame_once_and_name_their_members(
    sharded: str, gateway: Gateway, deployed: Container
) -> None:
    members = room_of(gateway, SHARD_SIZE + 2)
    deliver_all(sharded)
    say(gateway, members[0], "what is queued")
    (item,) = received(sharded)
    body = json.loads(item["Body"])
    assert body["frame"]["message"] == "what is queued"
    assert len(body["to"]) == 2 and set(body["to"]) <= set(members)
