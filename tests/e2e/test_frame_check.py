"""The e2e frame check has teeth: a bad frame fails the test, a refused or posted one does not,
and the e2e clients' frames are recorded in both directions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.protocol_check import Conversation, FrameRecorder
from tests.e2e.support import async_test
from tests.e2e.support import frames as receive
from tests.support.protocol import FRAME_QUOTA_BYTES, Protocol, protocol

pytestmark = pytest.mark.e2e


def encoded(fields: dict[str, Any]) -> str:
    return json.dumps(fields)


@pytest.fixture
def rules() -> Protocol:
    return protocol()


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
