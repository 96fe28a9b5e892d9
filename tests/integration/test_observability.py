"""A full flow's logs and metrics: JSON lines with the fields, no secret, counts that match."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]
import botocore.exceptions  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from dependency_injector import providers

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.management_api import Retryable, exhausted, translate
from roomcast.domain.errors import DeliveryFailed, FailureKind
from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.aws_lambda.telemetry import metrics
from roomcast.entrypoints.aws_lambda.telemetry.metering import REASONS
from roomcast.entrypoints.containers import Container
from roomcast.entrypoints.gateway.log_setup import JsonFormatter
from roomcast.entrypoints.settings import ConfigurationError
from tests.integration.harness import BrokenStore, Gateway
from tests.integration.test_authentication import SECRET, token_for
from tests.support import events

BODY = "the body of a message nobody may log"


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.documents: list[dict[str, Any]] = []

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def invocations(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["message"] == "invocation"]

    def total(self, name: str, **dimensions: str) -> float:
        """A metric summed over the documents whose directive has exactly these dimensions."""
        wanted = sorted({"Environment", *dimensions})
        found = 0.0
        for document in self.documents:
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names = {m["Name"] for m in directive["Metrics"]}
                if directive["Dimensions"] == [wanted] and name in names and all(
                    document[k] == v for k, v in dimensions.items()
                ):
                    value = document[name]
                    found += sum(value) if isinstance(value, list) else value
        return found


@pytest.fixture
def captured(environment: pytest.MonkeyPatch) -> Iterator[Captured]:
    """Root records through the JSON formatter at INFO, as LoggingConfig does on Lambda."""
    environment.setenv("ROOMCAST_JWT_SECRET", SECRET)
    environment.setenv(metrics.ENVIRONMENT_VARIABLE, "test")
    environment.setenv("WEBSOCKET_ENDPOINT", events.ENDPOINT)
    capture = Captured()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    previous = metrics.use_sink(lambda document: capture.documents.append(
        json.loads(json.dumps(document))
    ))
    yield capture
    metrics.use_sink(previous)
    root.removeHandler(handler)
    root.setLevel(old_level)


def connect(token: str) -> tuple[str, dict[str, Any]]:
    connection_id = events.new_connection_id()
    query = {"token": token, "userId": "someone-else"}
    return connection_id, handlers.connect(events.connect_event(connection_id, query), None)


def a_full_flow(gateway: Gateway, notifier: FakeNotifier) -> dict[str, str]:
    """alice, bob and carol join; carol is gone and bob failing when alice speaks; alice
    pings, sends junk, leaves; the sweep runs. mallory's token is forged."""
    ids = {user: connect(token_for(user))[0] for user in ("alice", "bob", "carol")}
    _, refused = connect(token_for("mallory", secret="x" * 40))
    assert refused["statusCode"] == 401
    for user in ("alice", "bob", "carol"):
        gateway.join(ids[user], "lobby")
    notifier.mark_gone(ConnectionId(ids["carol"]))
    notifier.mark_failing(ConnectionId(ids["bob"]), FailureKind.FORBIDDEN)
    sent = {"action": "sendMessage", "roomId": "lobby", "message": BODY}
    assert gateway.send(ids["alice"], sent)["statusCode"] == 200
    gateway.send(ids["alice"], {"action": "ping"})
    gateway.send(ids["alice"], "not json at all")
    gateway.disconnect(ids["alice"])
    handlers.cleanup(events.scheduled_event(), None)
    return ids


def frames_delivered(notifier: FakeNotifier, ids: Mapping[str, str]) -> int:
    return sum(len(notifier.frames_for(ConnectionId(c))) for c in ids.values())


class TestLogs:
    def test_every_line_is_json_and_every_invocation_says_what_happened(
        self, captured: Captured, faked_gateway: Gateway, fake_notifier: FakeNotifier
    ) -> None:
        ids = a_full_flow(faked_gateway, fake_notifier)
        lines = captured.invocations()
        assert [line["function"] for line in lines] == (
            ["connect"] * 4 + ["message"] * 6 + ["disconnect", "cleanup"]
        )
        for line in lines:
            assert {"timestamp", "level", "status", "outcome", "durationMs"} <= set(line)
            if line["function"] != "cleanup":
                assert {"connectionId", "routeKey", "apiRequestId"} <= set(line)
        [speech] = [line for line in lines if line.get("routeKey") == "sendMessage"]
        assert speech["connectionId"] == ids["alice"]
        assert (speech["fanoutSize"], speech["delivered"], speech["gone"], speech["failed"]) == (
            5, 2, 1, 2
        )  # the message to 3 members, then carol's userLeft to the 2 left
        assert [line["outcome"] for line in lines[:4]] == ["ok"] * 3 + ["unauthorized"]
        assert lines[-1]["checked"] == 1 and lines[-1]["removed"] == 0

    def test_no_token_secret_or_message_body_is_ever_logged(
        self, captured: Captured, faked_gateway: Gateway, fake_notifier: FakeNotifier
    ) -> None:
        a_full_flow(faked_gateway, fake_notifier)
        text = captured.stream.getvalue()
        assert captured.lines()
        for secret in (BODY, SECRET, token_for("alice").split(".")[0], "someone-else"):
            assert secret not in text

    def test_gone_and_failed_deliveries_are_logged_as_events_of_their_own(
        self, captured: Captured, faked_gateway: Gateway, fake_notifier: FakeNotifier
    ) -> None:
        ids = a_full_flow(faked_gateway, fake_notifier)
        events_by_message = Counter(line["message"] for line in captured.lines())
        assert events_by_message["connections gone"] == 1
        [gone] = [line for line in captured.lines() if line["message"] == "connections gone"]
        assert gone["connectionIds"] == [ids["carol"]] and gone["level"] == "INFO"
        failures = [line for line in captured.lines() if line["message"] == "delivery failed"]
        assert {line["level"] for line in failures} == {"WARNING"}
        assert sum(line["failed"] for line in failures) == 3


class TestMetrics:
    def test_the_counts_match_what_happened(
        self, captured: Captured, faked_gateway: Gateway, fake_notifier: FakeNotifier
    ) -> None:
        ids = a_full_flow(faked_gateway, fake_notifier)
        total = captured.total
        assert (total("ConnectionsOpened"), total("ConnectionsRefused")) == (3, 1)
        assert total("ConnectionsClosed") == 1
        routes = ("joinRoom", "sendMessage", "ping", "$default")
        assert [total("MessagesReceived", Route=r) for r in routes] == [3, 1, 1, 1]
        assert total("FramesDelivered") == frames_delivered(fake_notifier, ids)
        assert total("GoneConnections") == 1
        assert total("DeliveryFailures") == 3
        assert total("DeliveryFailures", Reason="Forbidden") == 3
        assert total("FanoutSize") == 1 + 2 + 3 + 2 + 1  # bob's and carol's joins, then
        assert (total("CleanupChecked"), total("CleanupRemoved")) == (1, 0)  # alice's words
        assert total("HandlerErrors") == 0

    def test_every_document_is_valid_emf_in_the_roomcast_namespace(
        self, captured: Captured, faked_gateway: Gateway, fake_notifier: FakeNotifier
    ) -> None:
        a_full_flow(faked_gateway, fake_notifier)
        assert captured.documents
        for document in captured.documents:
            assert isinstance(document["_aws"]["Timestamp"], int)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                assert directive["Namespace"] == "roomcast"
                for dimension in (d for dims in directive["Dimensions"] for d in dims):
                    assert isinstance(document[dimension], str)
                for metric in directive["Metrics"]:
                    assert metric["Unit"] == metrics.UNITS[metric["Name"]]
                    assert document[metric["Name"]] is not None
            assert document["Environment"] == "test"

    def test_an_unexpected_failure_counts_as_a_handler_error(
        self, captured: Captured, environment: pytest.MonkeyPatch
    ) -> None:
        environment.delenv("WEBSOCKET_ENDPOINT")
        environment.setenv("ROOMCAST_STORE", "memory")
        with pytest.raises(ValueError, match="WEBSOCKET_ENDPOINT"):
            handlers.cleanup(events.scheduled_event(), None)
        assert captured.total("HandlerErrors", Function="cleanup") == 1
        [line] = captured.invocations()
        assert (line["outcome"], line["level"]) == ("error", "WARNING")

    def test_a_disconnect_that_failed_is_an_error_though_it_answers_200(
        self, captured: Captured, faked: Container
    ) -> None:
        faked.store.override(providers.Object(BrokenStore()))
        response = handlers.disconnect(events.disconnect_event(events.new_connection_id()), None)
        assert response["statusCode"] == 200  # API Gateway ignores it; the socket is closed
        assert captured.total("HandlerErrors", Function="disconnect") == 1
        [line] = captured.invocations()
        assert (line["status"], line["outcome"]) == (200, "error")


def authorize(token: str | None) -> dict[str, Any]:
    query = {"token": token} if token is not None else None
    return handlers.authorize(events.authorizer_event(events.new_connection_id(), query), None)


class TestTheAuthorizer:
    """The REQUEST authorizer reports like the handlers: an Allow is ok, a Deny (the client
    sees 403) is a refused connection, a raise (500) a handler error."""

    @pytest.fixture(autouse=True)
    def no_table(self, environment: pytest.MonkeyPatch) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")  # the authorizer reads none

    def test_an_allow_is_an_ok_invocation(self, captured: Captured) -> None:
        event = events.authorizer_event(events.new_connection_id(), {"token": token_for("al")})
        assert handlers.authorize(event, None)["principalId"] == "al"
        [line] = captured.invocations()
        assert (line["function"], line["status"], line["outcome"]) == ("authorizer", 200, "ok")
        assert line["connectionId"] == event["requestContext"]["connectionId"]
        assert line["routeKey"] == "$connect" and line["coldStart"] in (True, False)
        assert captured.total("HandlerErrors", Function="authorizer") == 0
        assert captured.total("ConnectionsOpened") == captured.total("ConnectionsRefused") == 0

    @pytest.mark.parametrize("token", [None, "not-a-jwt"], ids=["no token", "a forged one"])
    def test_a_deny_is_a_refused_connection(self, captured: Captured, token: str | None) -> None:
        forged = token or token_for("mallory", secret="x" * 40)
        assert authorize(forged)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        [line] = captured.invocations()
        assert (line["status"], line["outcome"], line["level"]) == (403, "unauthorized", "INFO")
        assert captured.total("ConnectionsRefused") == 1
        assert captured.total("HandlerErrors", Function="authorizer") == 0

    def test_a_misconfigured_authorizer_raises_and_counts_a_handler_error(
        self, captured: Captured, environment: pytest.MonkeyPatch
    ) -> None:
        environment.delenv("ROOMCAST_JWT_SECRET")
        with pytest.raises(ConfigurationError, match="the authorizer needs"):
            authorize(token_for("alice"))
        [line] = captured.invocations()
        assert (line["status"], line["outcome"], line["level"]) == (500, "error", "WARNING")
        assert captured.total("HandlerErrors", Function="authorizer") == 1
        assert captured.total("HandlerErrors") == 1

    def test_a_malformed_event_is_an_error(self, captured: Captured) -> None:
        with pytest.raises(ValueError, match="methodArn"):
            handlers.authorize({"requestContext": {}}, None)
        [line] = captured.invocations()
        assert line["outcome"] == "error"


class TestStdout:
    def test_documents_are_printed_one_json_line_each(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        metrics.print_line(metrics.document([metrics.MetricSet(
            {"Environment": "dev"}, {"FramesDelivered": 3, "FanoutSize": [1, 2]}
        )]))
        [line] = capsys.readouterr().out.splitlines()
        document = json.loads(line)
        assert (document["FramesDelivered"], document["FanoutSize"]) == (3, [1, 2])


def modeled_error(client: Any, name: str, status: int) -> Exception:
    response = {"Error": {"Code": name, "Message": name}, "ResponseMetadata": {
        "HTTPStatusCode": status}}
    cls = getattr(client.exceptions, name, None) or botocore.exceptions.ClientError
    return cls(response, "PostToConnection")  # type: ignore[no-any-return]


class TestFailureReasons:
    """The management API's errors become the kinds that the `Reason` values the dashboard
    shows are named after."""

    @pytest.fixture
    def client(self) -> Any:
        return boto3.client("apigatewaymanagementapi", region_name="us-east-1",
                            endpoint_url=events.ENDPOINT, aws_access_key_id="x",
                            aws_secret_access_key="x")

    @pytest.mark.parametrize(("name", "status", "reason"), [
        ("PayloadTooLargeException", 413, "PayloadTooLarge"),
        ("ForbiddenException", 403, "Forbidden"),
        ("InvalidSignatureException", 403, "Forbidden"),
        ("TooManyRequestsException", 429, "RateLimited"),
        ("InternalServerError", 500, "ServerError"),
        ("ServiceUnavailable", 503, "ServerError"),
        ("SomethingNew", 400, "Other"),
    ])
    def test_a_failed_post(self, client: Any, name: str, status: int, reason: str) -> None:
        failure = translate(modeled_error(client, name, status))
        assert isinstance(failure, DeliveryFailed)
        assert REASONS[failure.kind] == reason, failure

    def test_throttled_after_every_retry(self) -> None:
        assert REASONS[exhausted(None, 5).kind] == "RateLimited"

    def test_a_read_timeout_and_connections_that_failed_every_attempt(self) -> None:
        timeout = translate(ReadTimeoutError(endpoint_url=events.ENDPOINT))
        assert isinstance(timeout, DeliveryFailed)
        assert REASONS[timeout.kind] == "Timeout"
        for error, reason in [
            (EndpointConnectionError(endpoint_url=events.ENDPOINT), "Unreachable"),
            (ConnectionClosedError(endpoint_url=events.ENDPOINT), "Unreachable"),
            (ConnectTimeoutError(endpoint_url=events.ENDPOINT), "Timeout"),
        ]:
            retried = translate(error)
            assert isinstance(retried, Retryable)
            assert REASONS[exhausted(retried, 5).kind] == reason, error

    def test_every_kind_has_its_reason(self) -> None:
        assert set(REASONS) == set(FailureKind)
        assert len(set(REASONS.values())) == len(FailureKind)


class TestEmfLimits:
    def test_more_than_100_values_of_a_metric_are_spread_over_several_documents(self) -> None:
        documents: list[Mapping[str, Any]] = []
        previous = metrics.use_sink(documents.append)
        try:
            sizes = list(range(1, 251))
            metrics.emit([metrics.MetricSet({"Environment": "dev"}, {
                "FanoutSize": sizes, "FramesDelivered": 7, "CleanupRemoved": 250,
            })])
        finally:
            metrics.use_sink(previous)
        assert [len(d["FanoutSize"]) for d in documents] == [100, 100, 50]
        assert [v for d in documents for v in d["FanoutSize"]] == sizes
        assert [d.get("FramesDelivered") for d in documents] == [7, None, None]
        for document in documents:
            [directive] = document["_aws"]["CloudWatchMetrics"]
            assert {m["Name"] for m in directive["Metrics"]} == {
                k for k in document if k in metrics.UNITS}
