"""Closes with 1009 on a frame or a message over the gateway's limits, as API Gateway does."""

from __future__ import annotations

from typing import Any, NamedTuple

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

from roomcast.entrypoints.gateway.connections import REASONS
from roomcast.entrypoints.gateway.state import GatewayLimits

DATA_OPCODES = frozenset({0x0, 0x1, 0x2})
MAX_HEADER_BYTES = 14
# What API Gateway's close frame says for a frame over 32 KB, or a message over 128 KB.
MESSAGE_TOO_BIG_REASON = REASONS[WSCloseCode.MESSAGE_TOO_BIG]


class FrameHeader(NamedTuple):
    opcode: int
    fin: bool
    payload_length: int
    size: int


def parse_header(data: bytes) -> FrameHeader | None:
    """The frame header at the start of `data`, or None while it is incomplete (RFC 6455 5.2)."""
    if len(data) < 2:
        return None
    length = data[1] & 0x7F
    extended = {126: 2, 127: 8}.get(length, 0)
    size = 2 + extended + (4 if data[1] & 0x80 else 0)
    if len(data) < size:
        return None
    if extended:
        length = int.from_bytes(data[2 : 2 + extended], "big")
    return FrameHeader(data[0] & 0x0F, bool(data[0] & 0x80), length, size)


class Violation(NamedTuple):
    problem: str
    frame_start: int  # where in the scanned chunk the offending frame begins (0 if earlier)


class FrameSizeScanner:
    """Follows frame boundaries in a byte stream; `scan` names the first limit broken."""

    def __init__(self, limits: GatewayLimits) -> None:
        self._limits = limits
        self._partial_header = b""
        self._payload_left = 0
        self._message_bytes = 0

    def scan(self, data: bytes) -> Violation | None:
        position = 0
        while position < len(data):
            if self._payload_left:
                step = min(self._payload_left, len(data) - position)
                self._payload_left -= step
                position += step
                continue
            buffered = self._partial_header + data[position : position + MAX_HEADER_BYTES]
            header = parse_header(buffered)
            if header is None:
                self._partial_header = buffered
                return None
            frame_start = max(0, position - len(self._partial_header))
            position += header.size - len(self._partial_header)
            self._partial_header = b""
            self._payload_left = header.payload_length
            if header.opcode in DATA_OPCODES and (problem := self._check(header)):
                return Violation(problem, frame_start)
        return None

    def _check(self, header: FrameHeader) -> str | None:
        """Which limit the frame breaks, for the console; the client is told only API
        Gateway's close reason, the same for both (MESSAGE_TOO_BIG_REASON)."""
        limit = self._limits.max_frame_bytes
        if header.payload_length > limit:
            return f"a {header.payload_length:,}-byte frame, over the {limit:,}-byte frame limit"
        self._message_bytes += header.payload_length
        limit = self._limits.max_message_bytes
        if self._message_bytes > limit:
            return (f"a message of {self._message_bytes:,} bytes or more, over the "
                    f"{limit:,}-byte message limit")
        if header.fin:
            self._message_bytes = 0
        return None


class FrameSizeGuard:
    """Stands between aiohttp's request handler and its WebSocket parser.

    aiohttp limits only whole messages (`max_msg_size`); API Gateway also limits every frame.
    The guard reads each frame header on its way to aiohttp's parser, skips the payload, and
    fails the socket with MESSAGE_TOO_BIG as soon as a declared length is over a limit."""

    def __init__(self, parser: Any, messages: Any, limits: GatewayLimits) -> None:
        self._parser = parser
        self._messages = messages
        self._scanner = FrameSizeScanner(limits)
        self._tripped = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._tripped:
            return False, b""
        if violation := self._scanner.scan(data):
            self._tripped = True
            # Frames before the offending one are handled, as API Gateway handles them.
            self._parser.feed_data(data[: violation.frame_start])
            error = WebSocketError(WSCloseCode.MESSAGE_TOO_BIG, violation.problem)
            self._messages.set_exception(error)
            return False, b""
        result: tuple[bool, bytes] = self._parser.feed_data(data)
        return result

    def feed_eof(self) -> None:
        self._parser.feed_eof()


class LimitedWebSocketResponse(web.WebSocketResponse):
    """A WebSocketResponse whose parser sits behind a FrameSizeGuard."""

    def __init__(self, limits: GatewayLimits, protocols: tuple[str, ...] = ()) -> None:
        # aiohttp refuses a message whose size equals max_msg_size, hence the + 1.
        super().__init__(
            max_msg_size=limits.max_message_bytes + 1, compress=False, protocols=protocols
        )
        self._limits = limits

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        # aiohttp closes a socket whose parser failed with the error's code and no reason;
        # API Gateway's close frame for an oversized frame or message carries one.
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = MESSAGE_TOO_BIG_REASON.encode()
        return await super().close(code=code, message=message, drain=drain)

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        # aiohttp has no hook for this: swap the parser it installs (private attributes,
        # pinned by the e2e 1009 tests) and replay bytes that arrived before it existed.
        handler: Any = request.protocol
        early_bytes, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        guard = FrameSizeGuard(handler._payload_parser, self._reader, self._limits)
        handler._payload_parser = guard
        if early_bytes:
            guard.feed_data(early_bytes)
