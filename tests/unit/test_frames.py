"""Outbound frames: encoding never fails, whatever text a frame carries."""

from __future__ import annotations

import json

from roomcast.domain import frames
from roomcast.domain.errors import UnknownAction
from roomcast.domain.model import RoomId, UserId

LOBBY = RoomId("lobby")


class TestEncoding:
    def test_a_frame_is_compact_utf8_json(self):
        frame = frames.user_joined(LOBBY, UserId("zoë"), 7)
        expected = '{"action":"userJoined","roomId":"lobby","userId":"zoë","timestamp":7}'
        assert frame.encode() == expected.encode()

    def test_a_frame_utf8_cannot_carry_becomes_the_error_frame(self):
        frame = frames.user_joined(LOBBY, UserId("\udc80"), 7)
        encoded = frame.encode()
        assert isinstance(encoded, bytes)
        assert json.loads(encoded) == {
            "action": "error",
            "message": frames.UNENCODABLE,
            "timestamp": 7,
        }

    def test_an_unknown_action_is_echoed_with_its_lone_surrogate_escaped(self):
        echoed = frames.error(UnknownAction("go\udc80").message, 7)
        assert json.loads(echoed.encode())["message"] == "Unknown action: go\\udc80"
