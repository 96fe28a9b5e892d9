"""docs/asyncapi.yaml describes the frames roomcast builds, and the e2e frame check has teeth."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from roomcast.domain import frames
from roomcast.domain.model import RoomId, UserId
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.protocol_check import Conversation, FrameRecorder
from tests.e2e.support import async_test
from tests.e2e.support import frames as receive
from tests.support.protocol import ASYNCAPI, FRAME_QUOTA_BYTES, Protocol, protocol

pytestmark = pytest.mark.e2e

ROOM, ALICE, NOW = RoomId("general"), UserId("alice"), 1_764_240_000_000


def encoded(fields: dict[str, Any]) -> str:
    return json.dumps(fields)


@pytest.fixture
def rules() -> Protocol:
    return protocol()


class TestTheDocument:
    @pytest.mark.parametrize(
        "frame",
        [
            frames.joined_room(ROOM, [ALICE, UserId("bob")], 2),
            frames.user_joined(ROOM, ALICE, NOW),
            frames.user_left(ROOM, ALICE, NOW),
            frames.left_room(ROOM),
            frames.message(ROOM, "héllo", ALICE, NOW),
            frames.pong(NOW),
            frames.error("Not in room", NOW),
        ],
        ids=lambda frame: frame.action,
    )
    def test_every_frame_the_domain_builds_is_a_documented_server_message(
        self, rules: Protocol, frame: frames.Frame
    ) -> None:
        verdict = rules.server_frame(frame.encode())
        assert (verdict.message, verdict.problem) == (frame.action, None)

    def test_every_example_in_the_document_is_valid(self, rules: Protocol) -> None:
        document = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
        for name, message in document["components"]["messages"].items():
            for example in message["examples"]:
                raw = encoded(example["payload"])
                check = rules.client_frame if name in rules.client_messages else rules.server_frame
                assert check(raw).problem is None, (name, example)

    def test_joined_room_must_carry_its_member_count(self, rules: Protocol) -> None:
        frame = {"action": "joinedRoom", "roomId": "r", "members": ["a"]}
        assert rules.server_frame(encoded(frame)).problem is not None
        counted = {**frame, "memberCount": 300}
        assert rules.server_frame(encoded(counted)).problem is None

    @pytest.mark.parametrize(
        "frame",
        [
            {"action": "message", "roomId": "r", "message": "hi", "timestamp": NOW},
            {"action": "joinedRoom", "roomId": "r", "members": ["a"], "extra": True},
            {"action": "pong", "timestamp": "now"},
            {"action": "error", "message": 5, "timestamp": NOW},
            {"action": "notice", "text": "hello"},
            {"message": "Something else", "connectionId": "c", "requestId": "r"},
        ],
    )
    def test_a_server_frame_that_drifts_from_the_document_is_a_problem(
        self, rules: Protocol, frame: dict[str, Any]
    ) -> None:
        assert rules.server_frame(encoded(frame)).problem is not None

    @pytest.mark.parametrize(
        ("frame", "valid"),
        [
            ('{"action":"sendMessage","roomId":"r","message":"hi","sender":"x"}', True),
            ('{"action":"joinRoom","roomId":"not a room id"}', False),
            ('{"action":"leaveRoom"}', False),
            ('{"action":"dance"}', False),
            ("not json", False),
            (encoded({"action": "ping", "pad": "x" * FRAME_QUOTA_BYTES}), False),
        ],
    )
    def test_client_frames_are_checked_against_the_client_messages(
        self, rules: Protocol, frame: str, valid: bool
    ) -> None:
        assert (rules.client_frame(frame).problem is None) is valid


class TestTheFrameCheck:
    def test_a_bad_client_frame_must_be_refused(self, rules: Protocol) -> None:
        recorder = FrameRecorder()
        conversation = recorder.conversation("socket", lambda: None)
        conversation.sent.append('{"action":"dance"}')
        assert recorder.problems(rules)[0] == "1 bad client frames, 0 refused"
        conversation.received.append(encoded({"action": "error", "message": "x", "timestamp": 1}))
        assert recorder.problems(rules) == []

    def test_a_close_with_1009_refuses_an_oversize_frame(self, rules: Protocol) -> None:
        recorder = FrameRecorder()
        recorder.conversation("socket", lambda: 1009).sent.append("x" * (FRAME_QUOTA_BYTES + 1))
        assert recorder.problems(rules) == []

    def test_bytes_a_test_posted_itself_are_not_the_protocols(self, rules: Protocol) -> None:
        recorder = FrameRecorder()
        recorder.conversation("socket", lambda: None).received.append('{"action":"notice"}')
        assert len(recorder.problems(rules)) == 1
        recorder.note_post({"ConnectionId": "c", "Data": b'{"action":"notice"}'})
        assert recorder.problems(rules) == []

    @async_test
    async def test_the_e2e_clients_frames_are_recorded_in_both_directions(
        self, gateway: GatewayProcess, room: str, frames_follow_the_asyncapi_document: FrameRecorder
    ) -> None:
        async with gateway.client("rita") as rita:
            await rita.join_room(room)
            await rita.send_message(room, "recorded")
            await receive(rita, 2)
        [conversation] = frames_follow_the_asyncapi_document.conversations.values()
        assert _actions(conversation) == (
            ["joinRoom", "sendMessage"], ["joinedRoom", "message"]
        )


def _actions(conversation: Conversation) -> tuple[list[str], list[str]]:
    def actions(raws: list[str | bytes]) -> list[str]:
        return [json.loads(raw)["action"] for raw in raws]

    return actions(conversation.sent), actions(conversation.received)
