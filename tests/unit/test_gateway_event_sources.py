"""`roomcast serve`'s SQS event sources without sockets: the mappings and queues it reads
from a template, and the local queue's semantics (delay, visibility, batch item failures,
redelivery, the dead-letter queue) as a poller drives a function with them."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from roomcast.adapters.sqs_fanout import SqsFanoutQueue
from roomcast.domain.fanout import Shard
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId, RoomId
from roomcast.entrypoints.gateway import sam
from roomcast.entrypoints.gateway.event_sources import (
    MappingDefinition,
    QueueDefinition,
    event_source_mappings,
    mapping_functions,
    queue_definitions,
)
from roomcast.entrypoints.gateway.invoker import Invoker
from roomcast.entrypoints.gateway.queues import LocalQueue, LocalSqsClient, Poller
from roomcast.entrypoints.gateway.template import (
    DEFAULT_TEMPLATE,
    TemplateError,
    load_template,
    local_stack,
    with_parameters,
)


def resolver_for(template: dict[str, Any]) -> Any:
    return local_stack(
        template, api_id="abc123", stage="dev", websocket_origin="ws://127.0.0.1:9000",
        http_origin="http://127.0.0.1:9000", region="us-east-1", stack_name="app",
    )


class TestReadingTheTemplate:
    def test_roomcasts_own_template_feeds_its_fanout_queue_to_the_deliver_function(self):
        template = with_parameters(load_template(DEFAULT_TEMPLATE), {"CallbackBudget": "10000"})
        resolver = resolver_for(template)
        (mapping,) = event_source_mappings(template, resolver)
        assert mapping == MappingDefinition(
            "DeliverEventSourceMapping", "DeliverFunction", "FanoutQueue", batch_size=1,
            report_batch_item_failures=True, maximum_concurrency=10,
        )
        assert mapping_functions(template) == ["DeliverFunction"]
        queues = {q.logical_id: q for q in queue_definitions(template, resolver)}
        assert queues["FanoutQueue"].name == "dev-roomcast-fanout"
        assert queues["FanoutQueue"].dead_letter == "FanoutDeadLetterQueue"
        assert queues["FanoutQueue"].max_receive_count == 3
        assert queues["FanoutQueue"].visibility_timeout == 360
        assert queues["FanoutDeadLetterQueue"].dead_letter is None

    def test_a_sam_sqs_event_becomes_the_mapping_sam_generates(self):
        template = sam.transform({
            "Transform": sam.TRANSFORM,
            "Resources": {
                "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {
                    "DelaySeconds": 2, "VisibilityTimeout": 5,
                    "RedrivePolicy": json.dumps({
                        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:app-Dead",
                        "maxReceiveCount": 4,
                    }),
                }},
                "Dead": {"Type": "AWS::SQS::Queue"},
                "Worker": {"Type": "AWS::Serverless::Function", "Properties": {
                    "Handler": "app.work",
                    "Events": {
                        "FromJobs": {"Type": "SQS", "Properties": {
                            "Queue": {"Fn::GetAtt": ["Jobs", "Arn"]}, "BatchSize": 5,
                            "Enabled": False,
                        }},
                        "Api": {"Type": "Api", "Properties": {}},
                    },
                }},
            },
        })
        resolver = resolver_for(template)
        assert event_source_mappings(template, resolver) == [MappingDefinition(
            "WorkerFromJobs", "Worker", "Jobs", batch_size=5, enabled=False,
        )]
        jobs = queue_definitions(template, resolver)[0]
        assert jobs == QueueDefinition("Jobs", "app-Jobs", 5, 2, "Dead", 4)

    def test_a_mapping_of_a_stream_is_not_emulated_and_a_bad_function_is_named(self):
        resources: dict[str, Any] = {
            "Q": {"Type": "AWS::SQS::Queue"},
            "Stream": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
                "FunctionName": {"Ref": "Fn"}}},
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Fn": {"Type": "AWS::Lambda::Function"},
        }
        assert mapping_functions({"Resources": resources}) == []
        resources["Bad"] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["Q", "Arn"]}, "FunctionName": "elsewhere"}}
        with pytest.raises(TemplateError, match="Bad: FunctionName names no function"):
            mapping_functions({"Resources": resources})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def queue(clock: Clock, **options: Any) -> tuple[LocalQueue, LocalQueue]:
    dead = LocalQueue(QueueDefinition("Dead", "dead"), "url-dead", "arn:dead", clock)
    definition = QueueDefinition("Jobs", "jobs", **{"visibility_timeout": 30, **options},
                                 dead_letter="Dead", max_receive_count=2)
    return LocalQueue(definition, "url-jobs", "arn:jobs", clock, dead_letter=dead), dead


class TestLocalQueue:
    def test_a_delayed_message_waits_and_a_received_one_is_hidden_until_its_timeout(self):
        clock = Clock()
        jobs, _ = queue(clock)
        jobs.send("later", delay_seconds=10)
        jobs.send("now")
        assert [m.body for m in jobs.receive(10)] == ["now"]
        assert jobs.receive(10) == []
        clock.now += 10
        (later,) = jobs.receive(10)
        assert later.body == "later"
        assert later.attributes["ApproximateReceiveCount"] == "1"
        clock.now += 20  # "now" was never deleted: it comes back; "later" is hidden still
        assert [m.body for m in jobs.receive(10)] == ["now"]

    def test_a_deleted_message_is_gone_and_a_stale_receipt_deletes_nothing(self):
        clock = Clock()
        jobs, _ = queue(clock)
        jobs.send("a")
        (first,) = jobs.receive(1)
        clock.now += 30
        (again,) = jobs.receive(1)
        jobs.delete([first.receipt_handle])
        assert jobs.describe()["inFlight"] == 1
        jobs.delete([again.receipt_handle])
        clock.now += 30
        assert jobs.receive(1) == []
        assert jobs.describe() | {"url": "", "arn": ""} == {
            "name": "jobs", "url": "", "arn": "", "visible": 0, "inFlight": 0, "delayed": 0,
            "sent": 1, "received": 2, "deleted": 1, "deadLettered": 0,
            "deadLetterQueue": "dead",
        }

    def test_past_max_receive_count_a_message_moves_to_the_dead_letter_queue(self):
        clock = Clock()
        jobs, dead = queue(clock)
        jobs.send("poison")
        for _ in range(2):
            assert len(jobs.receive(1)) == 1
            clock.now += 30
        assert jobs.receive(1) == []
        (moved,) = dead.receive(1)
        assert moved.body == "poison"
        assert jobs.describe()["deadLettered"] == 1

    def test_a_waiting_receive_wakes_when_a_message_is_sent(self):
        jobs, _ = queue(Clock())
        got: list[str] = []
        waiter = threading.Thread(target=lambda: got.extend(m.body for m in jobs.receive(1, 5)))
        waiter.start()
        jobs.send("hello")
        waiter.join(5)
        assert got == ["hello"]

    def test_roomcasts_sqs_adapter_queues_shards_on_it_with_their_delay(self):
        clock = Clock()
        jobs, _ = queue(clock)
        shard = Shard("w-1", RoomId("r"), Frame({"action": "message"}), [ConnectionId("c")])
        adapter = SqsFanoutQueue(LocalSqsClient({"url-jobs": jobs}), "url-jobs")
        assert adapter.enqueue([shard], delay_seconds=4) == []
        assert jobs.receive(1) == []
        clock.now += 4
        (record,) = jobs.receive(1)
        assert Shard.from_json(record.body) == shard


class TestPoller:
    def poller(self, jobs: LocalQueue, handler: Any, report: bool = True) -> Poller:
        mapping = MappingDefinition("Map", "Worker", "Jobs", batch_size=3,
                                    report_batch_item_failures=report)
        invoker = Invoker(1, 29)
        return Poller(mapping, jobs, handler, invoker.call, timeout_seconds=3, region="eu-west-1")

    def test_the_function_gets_an_sqs_event_and_failed_items_come_back_then_dead_letter(self):
        clock = Clock()
        jobs, dead = queue(clock)
        events: list[dict[str, Any]] = []

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            events.append(event)
            assert context.get_remaining_time_in_millis() > 0
            return {"batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]}

        poller = self.poller(jobs, handler)
        for body in ("good", "bad", "fine"):
            jobs.send(body)
        poller.poll_once(jobs.receive(3))
        (record, *_) = events[0]["Records"]
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == "arn:jobs"
        assert record["awsRegion"] == "eu-west-1"
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert {r["body"] for r in events[0]["Records"]} == {"good", "bad", "fine"}
        clock.now += 30
        retried = jobs.receive(3)
        assert [r.body for r in retried] == ["bad"]
        poller.poll_once(retried)
        clock.now += 30
        assert jobs.receive(3) == []  # received twice: maxReceiveCount
        assert [r.body for r in dead.receive(3)] == ["bad"]
        assert poller.describe()["records"] == 4
        assert poller.describe()["failedRecords"] == 2

    def test_a_raising_function_or_an_unreadable_answer_fails_the_whole_batch(self):
        clock = Clock()
        jobs, _ = queue(clock)

        def raising(event: Any, context: Any) -> Any:
            raise RuntimeError("boom")

        jobs.send("a")
        jobs.send("b")
        self.poller(jobs, raising).poll_once(jobs.receive(3))
        clock.now += 30
        records = jobs.receive(3)
        assert len(records) == 2
        stranger = {"batchItemFailures": [{"itemIdentifier": "x"}]}
        unreadable = self.poller(jobs, lambda e, c: stranger)
        unreadable.poll_once(records)
        clock.now += 30
        assert len(jobs.receive(3)) == 0  # both moved to the dead-letter queue now
        assert jobs.describe()["deadLettered"] == 2

    def test_without_report_batch_item_failures_a_returned_answer_deletes_every_record(self):
        clock = Clock()
        jobs, _ = queue(clock)
        jobs.send("a")
        failing = {"batchItemFailures": [{"itemIdentifier": "anything"}]}
        self.poller(jobs, lambda e, c: failing, report=False).poll_once(jobs.receive(3))
        clock.now += 30
        assert jobs.receive(3) == []
        assert jobs.describe()["deleted"] == 1

    def test_workers_deliver_what_is_sent_while_they_run(self):
        jobs, _ = queue(Clock())
        done = threading.Event()
        seen: list[str] = []

        def handler(event: dict[str, Any], context: Any) -> None:
            seen.extend(r["body"] for r in event["Records"])
            if len(seen) == 5:
                done.set()

        poller = self.poller(jobs, handler)
        poller.start()
        try:
            for n in range(5):
                jobs.send(str(n))
            assert done.wait(5)
        finally:
            poller.stop()
        assert sorted(seen) == ["0", "1", "2", "3", "4"]
