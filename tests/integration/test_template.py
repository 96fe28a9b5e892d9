"""infra/template.yaml: lint-clean, wired to the real handlers, and as narrow as the code allows."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from dependency_injector import providers

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_history import DynamoDBRoomLog
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.sqs_fanout import SqsFanoutQueue, make_sqs_client
from roomcast.domain.errors import FailureKind
from roomcast.domain.model import ConnectionId, RoomId, UserId
from roomcast.domain.service import ChatService
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import Container
from roomcast.entrypoints.gateway.template import load_template
from roomcast.entrypoints.settings import SETTINGS
from tests.integration.harness import Gateway
from tests.support import events
from tests.support.events import REGION

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
HANDLERS = "roomcast.entrypoints.aws_lambda.handlers."
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ROUTE_KEYS = {"$connect", "$disconnect", "$default", "joinRoom", "leaveRoom", "sendMessage", "ping"}


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == kind}


FUNCTIONS = of_type("AWS::Lambda::Function")


def policy_statements(role: str = "FunctionRole") -> dict[str, dict[str, Any]]:
    [policy] = RESOURCES[role]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def sub_text(value: dict[str, Any]) -> str:
    """The text of an Fn::Sub, in its short form or its [text, variables] form."""
    sub = value["Fn::Sub"]
    return str(sub[0] if isinstance(sub, list) else sub)


def function_behind(route: dict[str, Any]) -> str:
    integration_id = sub_text(route["Target"]).removeprefix("integrations/${").rstrip("}")
    uri = sub_text(RESOURCES[integration_id]["Properties"]["IntegrationUri"])
    return uri.split("functions/${")[1].split(".Arn}")[0]


def function_named(name: dict[str, Any]) -> str:
    """The function a permission's FunctionName names: a Ref, or its ARN with a qualifier."""
    return str(name["Ref"]) if "Ref" in name else sub_text(name).split("${")[1].split(".Arn}")[0]


class TestTemplate:
    def test_cfn_lint_passes(self) -> None:
        cfn_lint = Path(sys.executable).with_name("cfn-lint")
        result = subprocess.run(
            [str(cfn_lint), "infra/template.yaml"], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr

    @pytest.mark.parametrize("name", sorted(FUNCTIONS))
    def test_every_handler_imports_and_takes_event_and_context(self, name: str) -> None:
        module_name, _, attribute = FUNCTIONS[name]["Handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        assert callable(handler)
        assert list(inspect.signature(handler).parameters)[:2] == ["event", "context"]

    @pytest.mark.parametrize("name", sorted(FUNCTIONS))
    def test_every_function_runs_python_on_arm_with_the_table_and_endpoint(
        self, name: str
    ) -> None:
        function = FUNCTIONS[name]
        assert function["Runtime"] in ("python3.12", "python3.13")
        assert function["Architectures"] == ["arm64"]
        assert function["Code"] == "../build/roomcast-lambda.zip"
        variables = function["Environment"]["Variables"]
        assert {"CONNECTIONS_TABLE", "WEBSOCKET_ENDPOINT"} <= set(variables)
        assert set(variables) <= {setting.env for setting in SETTINGS}

    def test_the_message_function_outlasts_the_integration_timeout(self) -> None:
        assert FUNCTIONS["MessageFunction"]["Timeout"] >= 30

    def test_outputs_name_the_url_the_management_endpoint_and_the_table(self) -> None:
        outputs = TEMPLATE["Outputs"]
        assert outputs["WebSocketUrl"]["Value"]["Fn::Sub"].startswith("wss://")
        assert outputs["ManagementEndpoint"]["Value"]["Fn::Sub"].startswith("https://")
        assert outputs["ConnectionsTableName"]["Value"] == {"Ref": "ConnectionsTable"}


class TestRoutes:
    def test_the_api_routes_on_the_frames_action(self) -> None:
        [api] = of_type("AWS::ApiGatewayV2::Api").values()
        assert (api["ProtocolType"], api["RouteSelectionExpression"]) == (
            "WEBSOCKET", "$request.body.action"
        )
        assert {r["RouteKey"] for r in of_type("AWS::ApiGatewayV2::Route").values()} == ROUTE_KEYS

    def test_each_route_reaches_its_handler_through_a_permission_for_that_route_only(
        self,
    ) -> None:
        expected = {"$connect": "connect", "$disconnect": "disconnect"}
        permissions = of_type("AWS::Lambda::Permission").values()
        for route in of_type("AWS::ApiGatewayV2::Route").values():
            function = function_behind(route)
            handler = FUNCTIONS[function]["Handler"]
            assert handler == HANDLERS + expected.get(route["RouteKey"], "message")
            source = f"${{WebSocketApi}}/${{Environment}}/{route['RouteKey']}"
            granting = [
                p for p in permissions
                if function_named(p["FunctionName"]) == function
                and p["SourceArn"]["Fn::Sub"].endswith(source)
            ]
            assert len(granting) == 1, route["RouteKey"]

    def test_with_provisioned_concurrency_the_message_routes_invoke_and_permit_the_alias(
        self,
    ) -> None:
        qualifier = {"Qualifier": {"Fn::If": ["HasProvisionedConcurrency", ":live", ""]}}
        uri = RESOURCES["MessageIntegration"]["Properties"]["IntegrationUri"]["Fn::Sub"]
        assert uri[0].endswith("${MessageFunction.Arn}${Qualifier}/invocations")
        assert uri[1] == qualifier
        message_permissions = [
            p for p in of_type("AWS::Lambda::Permission").values()
            if function_named(p["FunctionName"]) == "MessageFunction"
        ]
        assert len(message_permissions) == 5
        for permission in message_permissions:
            assert permission["FunctionName"]["Fn::Sub"][1] == qualifier
        alias = RESOURCES["MessageAlias"]
        assert alias["Condition"] == "HasProvisionedConcurrency"
        assert alias["Properties"]["Name"] == "live"
        assert TEMPLATE["Parameters"]["MessageProvisionedConcurrency"]["Default"] == 0

    def test_the_stage_throttles_by_parameters(self) -> None:
        [stage] = of_type("AWS::ApiGatewayV2::Stage").values()
        assert stage["AutoDeploy"] is True
        assert stage["DefaultRouteSettings"] == {
            "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
            "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        }
        parameters = TEMPLATE["Parameters"]
        assert (parameters["ThrottlingBurstLimit"]["Default"],
                parameters["ThrottlingRateLimit"]["Default"]) == (500, 1000)

    def test_the_cleanup_runs_every_five_minutes(self) -> None:
        [rule] = of_type("AWS::Events::Rule").values()
        assert rule["ScheduleExpression"] == "rate(5 minutes)"
        assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["CleanupFunction", "Arn"]}
        assert FUNCTIONS["CleanupFunction"]["Handler"] == HANDLERS + "cleanup"
        [permission] = [
            p for p in of_type("AWS::Lambda::Permission").values()
            if p["Principal"] == "events.amazonaws.com"
        ]
        assert permission["FunctionName"] == {"Ref": "CleanupFunction"}


class TestTheTable:
    def test_the_table_from_the_template_serves_the_dynamodb_store(self, table: str) -> None:
        clock = FixedClock()
        client = boto3.client("dynamodb", region_name=REGION)
        store = DynamoDBConnectionStore(client, table, clock)
        log = DynamoDBRoomLog(client, table, clock)
        service = ChatService(store, FakeNotifier(), clock, log=log)
        service.connect(ConnectionId("c-1"), UserId("alice"))
        service.join(ConnectionId("c-1"), RoomId("lobby"))
        [member] = store.members(RoomId("lobby"))
        assert (member.connection_id, member.user_id) == (ConnectionId("c-1"), UserId("alice"))


class TestLeastPrivilege:
    @pytest.mark.parametrize("store_kind", ["dynamodb"])
    def test_the_role_grants_exactly_the_dynamodb_actions_the_handlers_use(
        self, deployed: Container, gateway: Gateway
    ) -> None:
        used = record_dynamodb_actions(deployed)
        alice, bob = gateway.connect("alice"), gateway.connect("bob")
        for room in ("lobby", "games"):
            gateway.join(alice, room)
        gateway.join(bob, "games")
        # A $connect over a record still in a room drops its memberships in a batch: since
        # removals became transactions, that is the one path that calls BatchWriteItem.
        handlers.connect(events.connect_event(bob, {"userId": "bob"}), None)
        gateway.join(bob, "games")
        gateway.send(bob, {"action": "sendMessage", "roomId": "games", "message": "hi"})
        gateway.send(bob, {"action": "leaveRoom", "roomId": "games"})
        gateway.disconnect(alice)
        deployed.config.websocket_endpoint.from_value(events.ENDPOINT)
        handlers.cleanup(events.scheduled_event(), None)
        deployed.store().stats()
        statement = policy_statements()["ConnectionsTable"]
        assert set(statement["Action"]) == {f"dynamodb:{action}" for action in used}
        assert statement["Resource"] == {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}

    @pytest.mark.parametrize("store_kind", ["dynamodb"])
    def test_the_workers_role_grants_exactly_what_deliver_and_its_event_source_use(
        self, faked: Container, faked_gateway: Gateway, fake_notifier: FakeNotifier
    ) -> None:
        """A room of four in shards of one: a gone member (removed, its userLeft sharded
        in turn) and a timing-out one (queued again) among the shards' recipients."""
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="dev-roomcast-fanout")["QueueUrl"]
        client = make_sqs_client()
        faked.fanout_queue.override(providers.Object(SqsFanoutQueue(client, url)))
        faked.config.fanout_shard_size.from_value(1)
        faked.config.websocket_endpoint.from_value(events.ENDPOINT)
        ids = {user: faked_gateway.connect(user) for user in ("alice", "bob", "carol", "dave")}
        for connection_id in ids.values():
            faked_gateway.join(connection_id, "lobby")
        fake_notifier.mark_gone(ConnectionId(ids["carol"]))
        fake_notifier.mark_failing(ConnectionId(ids["dave"]), FailureKind.TIMEOUT)
        faked_gateway.send(ids["alice"], {"action": "sendMessage", "roomId": "lobby",
                                          "message": "hi"})
        used_tables = record_dynamodb_actions(faked)
        used_queue = record_sqs_actions(client)
        for _ in range(20):
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages = received.get("Messages", [])
            if not messages:
                break
            for message in messages:
                record = {"messageId": message["MessageId"], "body": message["Body"]}
                assert handlers.deliver({"Records": [record]}, None) == {"batchItemFailures": []}
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        assert fake_notifier.frames_for(ConnectionId(ids["bob"]))
        statements = policy_statements("DeliverFunctionRole")
        table = statements["ConnectionsTable"]
        assert set(table["Action"]) == {f"dynamodb:{action}" for action in used_tables}
        assert table["Resource"] == {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}
        # SendMessageBatch is authorised as SendMessage; the event source mapping receives,
        # deletes, reads the queue's attributes and hides a message longer (AWS's list).
        assert used_queue == {"SendMessageBatch"}
        assert set(statements["FanoutQueue"]["Action"]) == {
            "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
            "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
        }
        assert statements["ManageConnections"] == policy_statements()["ManageConnections"]

    def test_management_calls_are_limited_to_this_stages_connections(self) -> None:
        statement = policy_statements()["ManageConnections"]
        assert statement["Action"] == "execute-api:ManageConnections"
        assert statement["Resource"]["Fn::Sub"].endswith(
            ":${WebSocketApi}/${Environment}/*/@connections/*"
        )


# A transaction is authorised item by item, as the item actions it contains.
TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def record_dynamodb_actions(container: Container) -> set[str]:
    used: set[str] = set()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "TransactWriteItems":
            used.update(TRANSACT_ITEM_ACTIONS[k] for item in params["TransactItems"] for k in item)
        else:
            used.add(model.name)

    container.dynamodb_client().meta.events.register("provide-client-params.dynamodb", record)
    return used


def record_sqs_actions(client: Any) -> set[str]:
    used: set[str] = set()
    client.meta.events.register(
        "provide-client-params.sqs", lambda model, **_: used.add(model.name)
    )
    return used


class TestObservability:
    @pytest.mark.parametrize("name", sorted(FUNCTIONS))
    def test_every_function_logs_json_at_the_chosen_level_into_its_own_group(
        self, name: str
    ) -> None:
        function = FUNCTIONS[name]
        group = name.removesuffix("Function") + "LogGroup"
        assert function["LoggingConfig"] == {
            "LogFormat": "JSON", "ApplicationLogLevel": {"Ref": "LogLevel"},
            "SystemLogLevel": "INFO", "LogGroup": {"Ref": group},
        }
        assert function["Environment"]["Variables"]["ROOMCAST_ENVIRONMENT"] == {
            "Ref": "Environment"}
        assert TEMPLATE["Parameters"]["LogLevel"]["Default"] == "INFO"

    def test_the_stage_writes_a_json_access_log_to_its_own_group(self) -> None:
        [stage] = of_type("AWS::ApiGatewayV2::Stage").values()
        settings = stage["AccessLogSettings"]
        assert settings["DestinationArn"] == {"Fn::GetAtt": ["AccessLogGroup", "Arn"]}
        fields = json.loads(settings["Format"])
        assert fields["connectionId"] == "$context.connectionId"
        assert {"requestId", "routeKey", "status", "integrationLatency", "error"} <= set(fields)

    def test_tracing_and_provisioned_concurrency_are_off_by_default(self) -> None:
        parameters = TEMPLATE["Parameters"]
        assert parameters["MessageTracing"]["Default"] == "PassThrough"
        assert FUNCTIONS["MessageFunction"]["TracingConfig"] == {"Mode": {"Ref": "MessageTracing"}}
        assert parameters["MessageProvisionedConcurrency"]["Default"] == 0
        policies = RESOURCES["FunctionRole"]["Properties"]["ManagedPolicyArns"]["Fn::If"]
        assert policies[0] == "TracesMessages" and policies[2] == {"Ref": "AWS::NoValue"}

    def test_the_alarm_topic_mails_only_when_an_address_is_given(self) -> None:
        subscription = RESOURCES["AlarmEmailSubscription"]
        assert subscription["Condition"] == "HasAlarmEmail"
        assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
        assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
