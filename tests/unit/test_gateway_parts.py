"""The gateway's pure parts, without sockets: route selection, template references, frame sizes."""

from __future__ import annotations

import asyncio
import struct

import pytest

from roomcast.entrypoints.gateway.frame_guard import (
    FrameSizeGuard,
    FrameSizeScanner,
    Violation,
    parse_header,
)
from roomcast.entrypoints.gateway.invoker import Invoker
from roomcast.entrypoints.gateway.routing import Route, load_routes, route_key_for
from roomcast.entrypoints.gateway.state import GatewayLimits
from roomcast.entrypoints.gateway.template import TemplateError, load_template

EXPRESSION = "$request.body.action"


def frame_header(payload_length: int, *, opcode: int = 0x1, fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    if payload_length < 126:
        return bytes([first, 0x80 | payload_length]) + b"mask"
    if payload_length < 2**16:
        return bytes([first, 0x80 | 126]) + struct.pack("!H", payload_length) + b"mask"
    return bytes([first, 0x80 | 127]) + struct.pack("!Q", payload_length) + b"mask"


def frame(payload_length: int, **options: int | bool) -> bytes:
    return frame_header(payload_length, **options) + b"x" * payload_length  # type: ignore[arg-type]


class TestRouteKeyFromTheBody:
    @pytest.mark.parametrize(
        ("body", "key"),
        [
            ('{"action": "joinRoom"}', "joinRoom"),
            ('{"action": 5}', None),
            ('{"action": null}', None),
            ('["action"]', None),
            ("not json", None),
            ("[" * 100_000, None),
            (None, None),
        ],
    )
    def test_only_a_string_action_is_a_route_key(self, body: str | None, key: str | None) -> None:
        assert route_key_for(body, EXPRESSION) == key

    def test_nested_paths_and_the_braced_form_are_understood(self) -> None:
        assert route_key_for('{"meta": {"kind": "ping"}}', "${request.body.meta.kind}") == "ping"


class TestRoutesFromTheTemplate:
    def test_every_route_of_the_real_template_reaches_a_handler(self) -> None:
        routes = load_routes(load_template())
        assert routes.selection_expression == EXPRESSION
        assert {"$connect", "$disconnect", "$default", "sendMessage"} <= set(routes.routes)
        assert routes.select('{"action": "sendMessage"}').key == "sendMessage"  # type: ignore[union-attr]
        assert routes.select('{"action": "$connect"}').key == "$default"  # type: ignore[union-attr]
        assert all(callable(route.handler) for route in routes.routes.values())

    def test_a_template_without_a_websocket_api_is_refused(self) -> None:
        with pytest.raises(TemplateError):
            load_routes({"Resources": {}})


class TestFrameSizeScanner:
    def test_a_frame_over_the_limit_trips_even_when_its_header_arrives_byte_by_byte(self) -> None:
        scanner = FrameSizeScanner(GatewayLimits(max_frame_bytes=100))
        header = frame_header(101)
        problems = [scanner.scan(header[i : i + 1]) for i in range(len(header))]
        assert problems[:-1] == [None] * (len(header) - 1)
        assert problems[-1] == Violation("a 101-byte frame, over the 100-byte frame limit", 0)

    def test_frames_within_the_limits_pass_in_any_chunking(self) -> None:
        stream = frame(300) + frame(70_000, opcode=0x2) + frame(5, opcode=0x9) + frame(0)
        scanner = FrameSizeScanner(GatewayLimits(max_frame_bytes=80_000))
        assert all(scanner.scan(stream[i : i + 7]) is None for i in range(0, len(stream), 7))

    def test_fragments_add_up_to_the_message_limit_and_control_frames_do_not(self) -> None:
        scanner = FrameSizeScanner(GatewayLimits(max_frame_bytes=100, max_message_bytes=250))
        fragments = frame(100, fin=False) + frame(5, opcode=0x9) + frame(100, opcode=0, fin=False)
        assert scanner.scan(fragments) is None
        assert scanner.scan(frame(51, opcode=0)) == Violation(
            "a message of 251 bytes or more, over the 250-byte message limit", 0
        )

    def test_the_violation_says_where_the_offending_frame_begins(self) -> None:
        scanner = FrameSizeScanner(GatewayLimits(max_frame_bytes=100))
        before = frame(10) + frame(3, opcode=0x9)
        assert scanner.scan(before + frame(101)) == Violation(
            "a 101-byte frame, over the 100-byte frame limit", len(before)
        )


class TestFrameSizeGuard:
    def test_frames_before_an_oversize_one_in_the_same_chunk_still_reach_the_parser(
        self,
    ) -> None:
        class Recorder:
            def __init__(self) -> None:
                self.fed: list[bytes] = []
                self.error: BaseException | None = None

            def feed_data(self, data: bytes) -> tuple[bool, bytes]:
                self.fed.append(data)
                return False, b""

            def set_exception(self, error: BaseException) -> None:
                self.error = error

        parser, messages = Recorder(), Recorder()
        guard = FrameSizeGuard(parser, messages, GatewayLimits(max_frame_bytes=100))
        valid = frame(20)
        guard.feed_data(valid + frame(101))
        assert parser.fed == [valid]
        assert messages.error is not None and "frame limit" in str(messages.error)

    def test_parse_header_reads_the_64_bit_length(self) -> None:
        header = parse_header(frame_header(2**20))
        assert header is not None and header.payload_length == 2**20 and header.size == 14


class TestInvokerAtShutdown:
    def test_an_invocation_after_shutdown_is_a_500_not_an_exception(self) -> None:
        invoker = Invoker(workers=1, timeout_seconds=1)
        invoker.shutdown()
        route = Route("$connect", "ConnectFunction", "h", lambda event, context: {})
        event = {"requestContext": {"requestId": "r-1"}}
        outcome = asyncio.run(invoker.invoke(route, event))
        assert outcome.status_code == 500

