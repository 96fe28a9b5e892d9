"""Every frame the protocol refuses: the right status, and one error frame to the sender."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers

from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import Container, reset_container
from tests.integration.harness import BrokenStore, Gateway
from tests.support import events

LONG = "x" * (32 * 1024 + 1)

REFUSALS: list[tuple[str, Any, str]] = [
    ("not JSON", "{not json", "Invalid JSON"),
    ("a null body", None, "Invalid JSON"),
    ("a JSON array", "[1, 2]", "Message must be a JSON object"),
    ("no action", {"roomId": "lobby"}, "action required"),
    ("an unknown action", {"action": "dance"}, "Unknown action: dance"),
    ("an action that is a lone surrogate", {"action": "\udc80"}, "Unknown action: \\udc80"),
    ("a message without roomId", {"action": "sendMessage", "message": "hi"},
     "roomId and message required"),
    ("a message without text", {"action": "sendMessage", "roomId": "lobby"},
     "roomId and message required"),
    ("a join without roomId", {"action": "joinRoom"}, "roomId required"),
    ("a leave without roomId", {"action": "leaveRoom"}, "roomId required"),
    ("a bad room id", {"action": "joinRoom", "roomId": "no spaces!"},
     "Invalid roomId: use 1-128 letters, digits or -_.: characters"),
    ("an oversized message", {"action": "sendMessage", "roomId": "lobby", "message": LONG},
     "Message too large: at most 32768 bytes of UTF-8"),
    ("a message to a room not joined",
     {"action": "sendMessage", "roomId": "games", "message": "hi"}, "Not in room"),
    ("leaving a room not joined", {"action": "leaveRoom", "roomId": "games"}, "Not in room"),
]


def assert_refused(gateway: Gateway, connection: str, response: dict[str, Any], text: str,
                   status: int = 400) -> None:
    assert response == {"statusCode": status, "body": text}
    [frame] = gateway.new_frames(connection)
    assert frame.keys() == {"action", "message", "timestamp"}
    assert (frame["action"], frame["message"]) == ("error", text)


class TestBadFrames:
    @pytest.mark.parametrize(
        ("body", "text"), [(body, text) for _, body, text in REFUSALS], ids=[r[0] for r in REFUSALS]
    )
    def test_each_bad_frame_is_refused_with_its_message(
        self, gateway: Gateway, body: Any, text: str
    ) -> None:
        alice = gateway.connect("alice")
        gateway.join(alice, "lobby")
        gateway.new_frames(alice)
        assert_refused(gateway, alice, gateway.send(alice, body), text)

    def test_a_frame_from_an_unknown_connection_is_refused_as_not_connected(
        self, gateway: Gateway
    ) -> None:
        stranger = events.new_connection_id()
        response = gateway.join(stranger, "lobby")
        assert_refused(gateway, stranger, response, "Not connected")

    def test_the_message_size_limit_comes_from_the_environment(
        self, environment: pytest.MonkeyPatch, gateway: Gateway
    ) -> None:
        environment.setenv("ROOMCAST_MAX_MESSAGE_BYTES", "5")
        reset_container()
        alice = gateway.connect("alice")
        gateway.join(alice, "lobby")
        gateway.new_frames(alice)
        response = gateway.send(alice, {"action": "sendMessage", "roomId": "r", "message": "héllo"})
        assert_refused(gateway, alice, response, "Message too large: at most 5 bytes of UTF-8")

    def test_a_failing_store_answers_500_with_an_internal_error_frame(
        self, deployed: Container, gateway: Gateway
    ) -> None:
        alice = gateway.connect("alice")
        deployed.store.override(providers.Object(BrokenStore()))
        response = gateway.join(alice, "lobby")
        assert_refused(gateway, alice, response, "Internal error", status=500)


class TestFrameEncodings:
    def test_a_base64_encoded_binary_frame_is_decoded(self, gateway: Gateway) -> None:
        alice = gateway.connect("alice")
        event = events.message_event(alice, {"action": "ping"}, binary=True)
        assert handlers.message(event, None) == {"statusCode": 200, "body": "Pong"}
        assert gateway.new_actions(alice) == ["pong"]

    def test_a_body_that_is_not_base64_is_a_malformed_event(self, gateway: Gateway) -> None:
        alice = gateway.connect("alice")
        event = events.message_event(alice, "%%%not base64%%%") | {"isBase64Encoded": True}
        response = handlers.message(event, None)
        assert response == {"statusCode": 400, "body": "Malformed event: body is not valid base64"}
        assert gateway.new_frames(alice) == []

    def test_unexpected_fields_are_ignored(self, gateway: Gateway) -> None:
        alice = gateway.connect("alice")
        event = events.message_event(alice, {"action": "ping", "extra": [1]})
        event["requestContext"]["authorizer"] = {"principalId": "alice"}
        event["somethingNew"] = {"nested": True}
        assert handlers.message(event, None) == {"statusCode": 200, "body": "Pong"}
