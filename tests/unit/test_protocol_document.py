"""docs/asyncapi.yaml describes the frames roomcast builds and the frames clients may send."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from roomcast.domain import frames
from roomcast.domain.history import Replay
from roomcast.domain.model import Message, RoomId, UserId
from tests.support.protocol import ASYNCAPI, FRAME_QUOTA_BYTES, Protocol, protocol

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
            frames.joined_room(ROOM, [ALICE, UserId("bob")], 2, ALICE, 0, "3f9a0c1b2d4e"),
            frames.joined_room(ROOM, [ALICE], 1, ALICE, 7, "3f9a0c1b2d4e", Replay((), False)),
            frames.user_joined(ROOM, ALICE, NOW),
            frames.user_left(ROOM, ALICE, NOW),
            frames.left_room(ROOM),
            frames.message(Message(ROOM, "héllo", ALICE, NOW, 1)),
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
        frame = {"action": "joinedRoom", "roomId": "r", "members": ["a"], "userId": "a", "seq": 0,
                 "epoch": "e1"}
        assert rules.server_frame(encoded(frame)).problem is not None
        counted = {**frame, "memberCount": 300}
        assert rules.server_frame(encoded(counted)).problem is None

    def test_a_message_must_carry_its_seq(self, rules: Protocol) -> None:
        frame = {"action": "message", "roomId": "r", "message": "hi", "sender": "a",
                 "timestamp": NOW}
        assert rules.server_frame(encoded(frame)).problem is not None
        assert rules.server_frame(encoded({**frame, "seq": 1})).problem is None

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
            ('{"action":"joinRoom","roomId":"r","since":3}', True),
            ('{"action":"joinRoom","roomId":"r","since":-1}', False),
            ('{"action":"joinRoom","roomId":"r","since":"3"}', False),
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
