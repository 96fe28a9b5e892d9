"""infra/template.yaml's sharded fan-out: the queue, the deliver workers and their sizing agree
with domain/fanout.py (the one rule for dividing the callback budget) and with the code that
sends to the queue."""

from __future__ import annotations

from typing import Any

import pytest

from roomcast.adapters.sqs_fanout import MAX_BODY_BYTES
from roomcast.domain.commands import DEFAULT_MAX_MESSAGE_BYTES
from roomcast.domain.fanout import (
    DEFAULT_CALLBACK_BUDGET,
    DEFAULT_SHARD_SIZE,
    Shard,
    workers_for,
)
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId, RoomId
from roomcast.entrypoints.gateway.template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
WORKERS = {"Fn::FindInMap": ["CallbackBudgets", {"Ref": "CallbackBudget"}, "Workers"]}
FRAME_LIMIT = 128 * 1024  # API Gateway's largest WebSocket frame
SENDING = ("MessageFunction", "DisconnectFunction", "CleanupFunction", "DeliverFunction")


def properties(logical_id: str) -> dict[str, Any]:
    return dict(RESOURCES[logical_id]["Properties"])


def variables(logical_id: str) -> dict[str, Any]:
    return dict(properties(logical_id)["Environment"]["Variables"])


def statements(role: str) -> dict[str, dict[str, Any]]:
    [policy] = properties(role)["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


class TestTheWorkersShareTheBudget:
    def test_the_mapping_is_workers_for_every_allowed_budget(self) -> None:
        budget = PARAMETERS["CallbackBudget"]
        mapping = TEMPLATE["Mappings"]["CallbackBudgets"]
        allowed = [int(value) for value in budget["AllowedValues"]]
        assert {int(key) for key in mapping} == set(allowed)
        for value in allowed:
            assert mapping[str(value)] == {"Workers": workers_for(value)}, value

    def test_the_defaults_are_the_codes(self) -> None:
        assert int(PARAMETERS["CallbackBudget"]["Default"]) == DEFAULT_CALLBACK_BUDGET
        assert int(PARAMETERS["FanoutShardSize"]["Default"]) == DEFAULT_SHARD_SIZE

    def test_reserved_concurrency_and_the_mappings_concurrency_are_the_workers(self) -> None:
        assert properties("DeliverFunction")["ReservedConcurrentExecutions"] == WORKERS
        scaling = properties("DeliverEventSourceMapping")["ScalingConfig"]
        assert scaling == {"MaximumConcurrency": WORKERS}

    def test_the_deliver_function_is_told_the_budget_it_divides(self) -> None:
        assert variables("DeliverFunction")["ROOMCAST_CALLBACK_BUDGET"] == {
            "Ref": "CallbackBudget"}


class TestTheQueue:
    def test_the_worker_takes_one_shard_at_a_time_and_reports_failures_alone(self) -> None:
        mapping = properties("DeliverEventSourceMapping")
        assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["FanoutQueue", "Arn"]}
        assert mapping["FunctionName"] == {"Ref": "DeliverFunction"}
        assert mapping["BatchSize"] == 1
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        handler = properties("DeliverFunction")["Handler"]
        assert handler == "roomcast.entrypoints.aws_lambda.handlers.deliver"

    def test_a_shard_stays_hidden_six_timeouts_of_the_worker(self) -> None:
        timeout = properties("DeliverFunction")["Timeout"]
        assert properties("FanoutQueue")["VisibilityTimeout"] >= 6 * timeout

    def test_a_shard_failing_three_receives_goes_to_the_dead_letter_queue(self) -> None:
        queue = properties("FanoutQueue")
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]},
            "maxReceiveCount": 3,
        }
        dead = properties("FanoutDeadLetterQueue")
        # A standard queue's message keeps its first enqueue time in the dead-letter queue.
        assert dead["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
        assert queue["SqsManagedSseEnabled"] is dead["SqsManagedSseEnabled"] is True

    @pytest.mark.parametrize("message_bytes", [DEFAULT_MAX_MESSAGE_BYTES, FRAME_LIMIT - 1024])
    def test_the_largest_shard_with_a_large_message_fits_one_sqs_message(
        self, message_bytes: int
    ) -> None:
        """FanoutShardSize's MaxValue: that many API Gateway connection ids (16 characters)
        and a frame near the 128 KiB API Gateway posts at most need no halving."""
        biggest = int(PARAMETERS["FanoutShardSize"]["MaxValue"])
        frame = Frame({"action": "message", "roomId": "lobby", "userId": "u" * 64,
                       "message": "\u20ac" * (message_bytes // 3),
                       "timestamp": 1_700_000_000_000, "seq": 2**53})
        recipients = [ConnectionId(f"{number:015d}=") for number in range(biggest)]
        shard = Shard(f"{'f' * 32}-99999.4", RoomId("lobby"), frame, recipients, 4)
        assert len(shard.to_json().encode()) <= MAX_BODY_BYTES


class TestWhoSends:
    @pytest.mark.parametrize("function", SENDING)
    def test_each_broadcasting_function_is_given_the_queue_and_the_shard_size(
        self, function: str
    ) -> None:
        given = variables(function)
        assert given["FANOUT_QUEUE_URL"] == {"Ref": "FanoutQueue"}
        assert given["ROOMCAST_FANOUT_SHARD_SIZE"] == {"Ref": "FanoutShardSize"}

    def test_the_shared_role_may_only_send_to_the_queue(self) -> None:
        statement = statements("FunctionRole")["FanoutQueue"]
        assert actions(statement) == {"sqs:SendMessage"}
        assert statement["Resource"] == {"Fn::GetAtt": ["FanoutQueue", "Arn"]}

    def test_the_workers_role_receives_deletes_and_sends_again_on_the_queue_only(self) -> None:
        assert properties("DeliverFunction")["Role"] == {
            "Fn::GetAtt": ["DeliverFunctionRole", "Arn"]}
        granted = statements("DeliverFunctionRole")
        assert actions(granted["FanoutQueue"]) == {
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility", "sqs:SendMessage",
        }
        assert granted["FanoutQueue"]["Resource"] == {"Fn::GetAtt": ["FanoutQueue", "Arn"]}
        assert granted["Logs"]["Resource"] == {"Fn::GetAtt": ["DeliverLogGroup", "Arn"]}
        assert "dynamodb:Scan" not in actions(granted["ConnectionsTable"])


class TestTheAlarms:
    @pytest.mark.parametrize(("alarm", "queue", "metric"), [
        ("FanoutDeadLetterAlarm", "FanoutDeadLetterQueue", "ApproximateNumberOfMessagesVisible"),
        ("FanoutQueueAgeAlarm", "FanoutQueue", "ApproximateAgeOfOldestMessage"),
    ])
    def test_each_queue_alarm_watches_its_queue(self, alarm: str, queue: str, metric: str) -> None:
        watched = properties(alarm)
        assert (watched["Namespace"], watched["MetricName"]) == ("AWS/SQS", metric)
        assert watched["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
        assert watched["AlarmActions"] == [{"Ref": "AlarmTopic"}]

    def test_one_dead_letter_is_enough(self) -> None:
        alarm = properties("FanoutDeadLetterAlarm")
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)

    def test_the_outputs_name_both_queues(self) -> None:
        outputs = TEMPLATE["Outputs"]
        assert outputs["FanoutQueueUrl"]["Value"] == {"Ref": "FanoutQueue"}
        assert outputs["FanoutDeadLetterQueueUrl"]["Value"] == {"Ref": "FanoutDeadLetterQueue"}
