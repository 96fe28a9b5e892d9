"""$connect and $disconnect: what is stored, what is answered, what is never logged."""

from __future__ import annotations

import logging

import pytest
from dependency_injector import providers

from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import Container
from tests.integration.harness import BrokenStore, Gateway
from tests.support import events

MALFORMED = [
    ("not an object", None, "Malformed event: not a JSON object"),
    ("no requestContext", {"body": "{}"}, "Malformed event: requestContext missing"),
    ("no connectionId", {"requestContext": {"routeKey": "$connect"}},
     "Malformed event: requestContext.connectionId missing"),
]


class TestConnect:
    def test_the_identity_api_gateway_saw_is_stored(
        self, deployed: Container, gateway: Gateway
    ) -> None:
        connection_id = events.new_connection_id()
        event = events.connect_event(connection_id, {"userId": "alice"}, "198.51.100.4", "curl/8")
        assert handlers.connect(event, None) == {"statusCode": 200, "body": "Connected"}
        stored = deployed.store().get(ConnectionId(connection_id))
        assert stored is not None
        assert (stored.user_id.value, stored.source_ip, stored.user_agent) == (
            "alice", "198.51.100.4", "curl/8"
        )

    def test_an_empty_user_id_is_anonymous(self, deployed: Container, gateway: Gateway) -> None:
        connection_id = events.new_connection_id()
        handlers.connect(events.connect_event(connection_id, {"userId": ""}), None)
        stored = deployed.store().get(ConnectionId(connection_id))
        assert stored is not None and stored.user_id.value == "anonymous"

    @pytest.mark.parametrize(("event", "body"), [m[1:] for m in MALFORMED],
                             ids=[m[0] for m in MALFORMED])
    def test_a_malformed_event_answers_400_saying_what_is_missing(
        self, gateway: Gateway, event: object, body: str
    ) -> None:
        assert handlers.connect(event, None) == {"statusCode": 400, "body": body}
        assert handlers.message(event, None) == {"statusCode": 400, "body": body}

    def test_a_failing_store_rejects_the_handshake_with_500(
        self, deployed: Container, gateway: Gateway
    ) -> None:
        deployed.store.override(providers.Object(BrokenStore()))
        event = events.connect_event(events.new_connection_id(), {"userId": "alice"})
        assert handlers.connect(event, None) == {"statusCode": 500, "body": "Failed to connect"}

    def test_the_token_is_never_logged(
        self, deployed: Container, gateway: Gateway, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        secret = {"userId": "alice", "token": "s3cr3t-t0ken"}
        handlers.connect(events.connect_event(events.new_connection_id(), secret), None)
        handlers.connect({"queryStringParameters": secret, "requestContext": {}}, None)
        deployed.store.override(providers.Object(BrokenStore()))
        handlers.connect(events.connect_event(events.new_connection_id(), secret), None)
        assert caplog.records, "the failures above should have been logged"
        assert "s3cr3t-t0ken" not in caplog.text


class TestDisconnect:
    def test_disconnect_answers_200_even_when_the_store_fails(
        self, deployed: Container, gateway: Gateway, caplog: pytest.LogCaptureFixture
    ) -> None:
        alice = gateway.connect("alice")
        deployed.store.override(providers.Object(BrokenStore()))
        assert gateway.disconnect(alice) == {"statusCode": 200, "body": "Disconnected"}
        assert "store unavailable" in caplog.text

    def test_a_malformed_disconnect_still_answers_200(self, gateway: Gateway) -> None:
        assert handlers.disconnect({"requestContext": {}}, None)["statusCode"] == 200

    def test_disconnecting_an_unknown_connection_is_harmless(self, gateway: Gateway) -> None:
        assert gateway.disconnect(events.new_connection_id())["statusCode"] == 200


class TestMisconfiguration:
    def test_a_bad_setting_answers_500_and_logs_which_variable(
        self, environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("ROOMCAST_JWT_SECRET", "too-short")
        connection_id = events.new_connection_id()
        connect = handlers.connect(events.connect_event(connection_id), None)
        message = handlers.message(events.message_event(connection_id, '{"action":"ping"}'), None)
        assert connect == message == {"statusCode": 500, "body": "Server misconfigured"}
        assert "ROOMCAST_JWT_SECRET" in caplog.text
