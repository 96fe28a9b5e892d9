"""The template's alarms, dashboard and metric filter name only metrics that exist: roomcast's
own as its EMF output of a full flow shows them, and AWS's as AWS documents them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dependency_injector import providers

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.memory_fanout import InMemoryFanoutQueue
from roomcast.domain.fanout import Shard
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId, RoomId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.aws_lambda.telemetry.metering import REASONS
from roomcast.entrypoints.containers import Container
from tests.integration.harness import BrokenStore, Gateway
from tests.integration.test_authentication import token_for
from tests.integration.test_observability import Captured, a_full_flow, captured  # noqa: F401
from tests.integration.test_template import FUNCTIONS, RESOURCES, ROUTE_KEYS, of_type
from tests.support import events
from tests.support.dashboard import dashboard

# AWS's metrics for WebSocket APIs (there is no DisconnectCount) and for functions.
AWS_METRICS = {
    "AWS/ApiGateway": {"ConnectCount", "MessageCount", "IntegrationError", "ClientError",
                       "ExecutionError", "IntegrationLatency"},
    "AWS/Lambda": {"Duration", "Errors", "Throttles", "Invocations", "ConcurrentExecutions"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed", "ApproximateAgeOfOldestMessage"},
}
AWS_DIMENSIONS = {"AWS/ApiGateway": {"ApiId", "Stage"}, "AWS/Lambda": {"FunctionName"},
                  "AWS/SQS": {"QueueName"}}
DIMENSION_VALUES = {
    "Route": ROUTE_KEYS - {"$connect", "$disconnect"},
    "Function": {name.removesuffix("Function").lower() for name in FUNCTIONS},
    "Reason": set(REASONS.values()),
}
FUNCTION_NAME = re.compile(
    r"^dev-roomcast-(connect|disconnect|message|cleanup|deliver|authorizer)$"
)

Reference = tuple[str, str, dict[str, str]]  # namespace, metric, dimensions


def widget_references() -> list[Reference]:
    found = []
    for widget in dashboard()["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            names = [part for part in metric if isinstance(part, str)]
            dimensions = dict(zip(names[2::2], names[3::2], strict=True))
            found.append((names[0], names[1], dimensions))
    return found


def alarm_references() -> list[Reference]:
    found = []
    for alarm in of_type("AWS::CloudWatch::Alarm").values():
        metrics = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        if "MetricName" in alarm:
            metrics.append(alarm)
        for metric in metrics:
            dimensions = {d["Name"]: _resolve(d["Value"]) for d in metric.get("Dimensions", [])}
            found.append((metric["Namespace"], metric["MetricName"], dimensions))
    return found


def _resolve(value: Any) -> str:
    """A dimension value as it is once deployed in the dev stage."""
    if value == {"Ref": "Environment"}:
        return "dev"
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"]).replace("${Environment}", "dev")
    if isinstance(value, dict) and "Ref" in value:
        return str(FUNCTIONS[value["Ref"]]["FunctionName"]["Fn::Sub"]).replace(
            "${Environment}", "dev"
        )
    if isinstance(value, dict) and value.get("Fn::GetAtt", [None, None])[1] == "QueueName":
        return _resolve(RESOURCES[value["Fn::GetAtt"][0]]["Properties"]["QueueName"])
    return str(value)


def queue_names() -> set[str]:
    return {_resolve(queue["QueueName"]) for queue in of_type("AWS::SQS::Queue").values()}


def filter_metrics() -> set[tuple[str, frozenset[str]]]:
    return {
        (t["MetricName"], frozenset(d["Key"] for d in t.get("Dimensions", [])))
        for f in of_type("AWS::Logs::MetricFilter").values()
        for t in f["MetricTransformations"]
    }


def emitted(capture: Captured) -> set[tuple[str, frozenset[str]]]:
    return {
        (metric["Name"], frozenset(dimensions))
        for document in capture.documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
        for metric in directive["Metrics"]
    }


@pytest.fixture
def flow_metrics(
    captured: Captured,  # noqa: F811
    faked: Container,
    faked_gateway: Gateway,
    fake_notifier: FakeNotifier,
) -> set[tuple[str, frozenset[str]]]:
    ids = a_full_flow(faked_gateway, fake_notifier)
    a_shard_delivered(faked, ids["bob"])
    return emitted(captured) | filter_metrics()


def a_shard_delivered(container: Container, connection_id: str) -> None:
    """The deliver worker at its work: one queued shard (the deliver function's metrics)."""
    container.fanout_queue.override(providers.Object(InMemoryFanoutQueue()))
    shard = Shard("w-1", RoomId("lobby"), Frame({"action": "message", "roomId": "lobby"}),
                  [ConnectionId(connection_id)])
    record = {"messageId": "m-1", "body": shard.to_json()}
    assert handlers.deliver({"Records": [record]}, None) == {"batchItemFailures": []}


class TestRoomcastMetrics:
    def test_every_alarm_and_widget_names_a_metric_the_flow_emitted(
        self, flow_metrics: set[tuple[str, frozenset[str]]]
    ) -> None:
        references = alarm_references() + widget_references()
        own = [(name, dims) for namespace, name, dims in references if namespace == "roomcast"]
        assert len(own) > 20
        for name, dimensions in own:
            assert (name, frozenset(dimensions)) in flow_metrics, (name, dimensions)
            assert dimensions["Environment"] == "dev"
            for key, value in dimensions.items():
                assert value in DIMENSION_VALUES.get(key, {value}), (name, key, value)

    def test_the_delivery_failure_rate_alarm_divides_failures_by_every_post(self) -> None:
        alarm = RESOURCES["DeliveryFailureRateAlarm"]["Properties"]
        names = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
                 for m in alarm["Metrics"] if "MetricStat" in m}
        assert names == {"delivered": "FramesDelivered", "failed": "DeliveryFailures",
                         "gone": "GoneConnections"}

    def test_the_handler_errors_alarm_adds_up_every_functions_errors(self) -> None:
        alarm = RESOURCES["HandlerErrorsAlarm"]["Properties"]
        [expression] = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
        added = set(re.findall(r"FILL\((\w+), 0\)", expression))
        lambda_errors = {
            _resolve(m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]): m["Id"]
            for m in alarm["Metrics"]
            if m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "Errors"
        }
        names = {_resolve(f["FunctionName"]) for f in FUNCTIONS.values()}
        assert set(lambda_errors) == names  # the authorizer's too, with Authentication=authorizer
        assert added == {"handled", *lambda_errors.values()}

    def test_every_alarm_notifies_the_topic(self) -> None:
        for name, alarm in of_type("AWS::CloudWatch::Alarm").items():
            assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert {a.removesuffix("Alarm") for a in of_type("AWS::CloudWatch::Alarm")} == {
            "ConnectionErrors", "HandlerErrors", "Throttles", "DeliveryFailureRate",
            "CleanupFailures", "FanoutDeadLetter", "FanoutQueueAge",
        }


class TestAwsMetrics:
    def test_aws_metrics_exist_with_their_documented_dimensions(self) -> None:
        references = alarm_references() + widget_references()
        theirs = [r for r in references if r[0] != "roomcast"]
        assert {namespace for namespace, _, _ in theirs} == set(AWS_METRICS)
        for namespace, name, dimensions in theirs:
            assert name in AWS_METRICS[namespace], name
            assert set(dimensions) <= AWS_DIMENSIONS[namespace], (name, dimensions)
            if "FunctionName" in dimensions:
                assert FUNCTION_NAME.match(dimensions["FunctionName"]), dimensions
            if "ApiId" in dimensions:
                assert dimensions == {"ApiId": "api", "Stage": "dev"}
            if "QueueName" in dimensions:
                assert dimensions["QueueName"] in queue_names(), dimensions
        shown = {d["QueueName"] for _, _, d in theirs if "QueueName" in d}
        assert shown == queue_names() == {"dev-roomcast-fanout", "dev-roomcast-fanout-dlq"}

    def test_the_dashboard_shows_each_function_and_fits_its_grid(self) -> None:
        widgets = dashboard()["widgets"]
        for widget in widgets:
            assert widget["x"] + widget["width"] <= 24
        lambda_widgets = [w for w in widgets if "Lambda" in w["properties"]["title"]]
        assert len(lambda_widgets) == 3
        for widget in lambda_widgets:
            shown = {m[3] for m in widget["properties"]["metrics"]}
            assert shown == {f"dev-roomcast-{f}" for f in DIMENSION_VALUES["Function"]}


class TestTheConnectionErrorsMetricFilter:
    def test_it_counts_a_failed_connect_from_the_invocation_line(
        self,
        captured: Captured,  # noqa: F811
        faked: Container,
    ) -> None:
        faked.store.override(providers.Object(BrokenStore()))
        connection_id = events.new_connection_id()
        query = {"token": token_for("alice")}
        response = handlers.connect(events.connect_event(connection_id, query), None)
        assert response["statusCode"] == 500
        [metric_filter] = of_type("AWS::Logs::MetricFilter").values()
        assert metric_filter["LogGroupName"] == {"Ref": "ConnectLogGroup"}
        conditions = re.findall(r'\$\.(\w+) = "([^"]*)"', metric_filter["FilterPattern"])
        matching = [line for line in captured.lines()
                    if all(line.get(field) == value for field, value in conditions)]
        assert len(matching) == 1 and matching[0]["connectionId"] == connection_id
        [transformation] = metric_filter["MetricTransformations"]
        for dimension in transformation["Dimensions"]:
            assert matching[0][dimension["Value"].removeprefix("$.")] == "test"
