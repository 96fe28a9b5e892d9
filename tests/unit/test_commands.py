"""Parsing inbound frames: every bad input becomes the right error."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomcast.domain import commands, errors, frames
from roomcast.domain.commands import JoinRoom, LeaveRoom, Ping, SendMessage, parse
from roomcast.domain.model import RoomId


class TestValidFrames:
    def test_join_room(self):
        assert parse('{"action":"joinRoom","roomId":"lobby"}') == JoinRoom(RoomId("lobby"))

    def test_leave_room(self):
        assert parse(b'{"action":"leaveRoom","roomId":"a:b.c-d_e"}') == LeaveRoom(
            RoomId("a:b.c-d_e")
        )

    def test_send_message_keeps_unicode(self):
        frame = json.dumps({"action": "sendMessage", "roomId": "r", "message": "héllo ✓"})
        assert parse(frame) == SendMessage(RoomId("r"), "héllo ✓")

    def test_ping_ignores_extra_fields(self):
        assert parse('{"action":"ping","extra":[1,2]}') == Ping()

    def test_a_message_exactly_at_the_limit_is_accepted(self):
        frame = json.dumps({"action": "sendMessage", "roomId": "r", "message": "é" * 5})
        assert parse(frame, max_message_bytes=10) == SendMessage(RoomId("r"), "é" * 5)


BAD_FRAMES = [
    (None, "Invalid JSON"),
    ("", "Invalid JSON"),
    ("{not json", "Invalid JSON"),
    (b"\xff\xfe", "Invalid JSON"),
    ("[1, 2]", "Message must be a JSON object"),
    ('"joinRoom"', "Message must be a JSON object"),
    ("{}", "action required"),
    ('{"action": null}', "action required"),
    ('{"action": 7}', "Unknown action: 7"),
    ('{"action": ["ping"]}', 'Unknown action: ["ping"]'),
    ('{"action": "dance"}', "Unknown action: dance"),
    ('{"action": "joinRoom"}', "roomId required"),
    ('{"action": "joinRoom", "roomId": ""}', "roomId required"),
    ('{"action": "leaveRoom", "roomId": 5}', "roomId required"),
    ('{"action": "sendMessage", "roomId": "r"}', "roomId and message required"),
    ('{"action": "sendMessage", "roomId": "r", "message": ""}', "roomId and message required"),
    ('{"action": "sendMessage", "message": "hi"}', "roomId and message required"),
    ('{"action": "sendMessage", "roomId": "r", "message": 3}', "roomId and message required"),
    ('{"action": "sendMessage", "roomId": "r", "message": "\\ud800"}', "Invalid JSON"),
]


class TestBadFrames:
    @pytest.mark.parametrize(("body", "message"), BAD_FRAMES)
    def test_each_bad_frame_maps_to_its_error(self, body, message):
        with pytest.raises(errors.DomainError) as refused:
            parse(body)
        assert refused.value.message == message
        assert refused.value.status_code == 400

    @pytest.mark.parametrize("room_id", ["has space", "x" * 129, "slash/no", "emoji😀"])
    def test_an_invalid_room_id_is_refused_with_the_rule(self, room_id):
        with pytest.raises(errors.InvalidRoomId) as refused:
            parse(json.dumps({"action": "joinRoom", "roomId": room_id}))
        assert "1-128" in refused.value.message

    def test_a_room_id_of_128_characters_is_accepted(self):
        assert parse(json.dumps({"action": "joinRoom", "roomId": "x" * 128})) == JoinRoom(
            RoomId("x" * 128)
        )

    def test_an_oversize_message_names_the_limit(self):
        frame = json.dumps({"action": "sendMessage", "roomId": "r", "message": "é" * 6})
        with pytest.raises(errors.MessageTooLarge) as refused:
            parse(frame, max_message_bytes=10)
        assert refused.value.message == "Message too large: at most 10 bytes of UTF-8"

    def test_the_default_limit_is_32_kib(self):
        assert commands.DEFAULT_MAX_MESSAGE_BYTES == 32 * 1024


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
actions = st.sampled_from(["joinRoom", "leaveRoom", "sendMessage", "ping"]) | json_values
frame_objects = st.fixed_dictionaries(
    {}, optional={"action": actions, "roomId": json_values | st.text(), "message": json_values}
)
bodies = (
    st.text()
    | st.binary()
    | st.none()
    | json_values.map(json.dumps)
    | frame_objects.map(json.dumps)
)


class TestArbitraryFrames:
    @given(bodies)
    def test_parsing_raises_nothing_but_domain_errors(self, body):
        with contextlib.suppress(errors.DomainError):
            parse(body)

    @given(bodies)
    def test_every_error_maps_to_an_error_frame(self, body):
        try:
            parse(body)
        except errors.DomainError as refused:
            frame = frames.error(refused.message, 1)
            decoded = json.loads(frame.encode())
            assert decoded == {"action": "error", "message": refused.message, "timestamp": 1}
            assert refused.message
