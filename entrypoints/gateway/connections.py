"""Open WebSocket connections: who they are, when they were last active, how they ended."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from roomcast.entrypoints.gateway.outbox import Outbox
from roomcast.entrypoints.gateway.proxy_events import Caller, now_ms

NORMAL = 1000
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
NO_STATUS = 1005
ABNORMAL = 1006
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
# A close that the client does not answer in time (it may not be reading at all) ends
# with the TCP connection aborted, as API Gateway drops a connection it gives up on.
CLOSE_TIMEOUT_SECONDS = 2.0

REASONS = {
    NORMAL: "Connection Closed Normally",
    GOING_AWAY: "Going away",
    UNSUPPORTED_DATA: "Binary frames are not supported",
    NO_STATUS: "Client-side close frame status not set",
    ABNORMAL: "Connection Closed Abnormally",
    POLICY_VIOLATION: "Outbound queue full",
    # API Gateway's reason for a frame over 32 KB (websockets' ConnectionClosedError from a
    # real API, as quoted on AWS re:Post); the gateway sends it for a message over 128 KB too.
    MESSAGE_TOO_BIG: "Message too big",
}


def reason_for(code: int, given: str = "") -> str:
    return given or REASONS.get(code, "")


@dataclass(eq=False)
class LiveConnection:
    caller: Caller
    socket: web.WebSocketResponse
    transport: asyncio.Transport | None
    max_outbound_bytes: int
    last_active_at: int = field(default_factory=now_ms)
    last_active_monotonic: float = field(default_factory=time.monotonic)
    close_code: int | None = None
    close_reason: str = ""
    close_detail: str = ""  # for the console only: e.g. which size limit a frame broke
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    inbound: deque[str] = field(default_factory=deque)
    dispatcher: asyncio.Task[None] | None = None
    _dropping: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.socket.send_frame, self.max_outbound_bytes, self._fell_behind)

    @property
    def id(self) -> str:
        return self.caller.connection_id

    @property
    def is_open(self) -> bool:
        return self.close_code is None and not self.socket.closed

    def touch(self) -> None:
        self.last_active_at = now_ms()
        self.last_active_monotonic = time.monotonic()

    def ended(self, code: int, reason: str = "") -> None:
        """Record how the connection ended; the first cause wins."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason_for(code, reason)

    def closed_by_client(self, code: int, reason: str) -> None:
        """The client's own close frame: its reason as sent, "" when it gave none, as API
        Gateway reports it (the canned texts are for closes API Gateway makes itself)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def deliver(self, data: bytes, opcode: WSMsgType = WSMsgType.TEXT) -> bool:
        """Queue a frame for the client; False when the connection takes no more (410).

        A frame for the client counts as activity for the idle timeout, as on API Gateway
        (`lastActiveAt` still moves on the client's frames only)."""
        if not (self.is_open and self.outbox.put(data, opcode)):
            return False
        self.last_active_monotonic = time.monotonic()
        return True

    async def close(self, code: int, reason: str = "") -> None:
        """Close from the gateway's side (DeleteConnection, timeouts, shutdown); idempotent."""
        self.ended(code, reason)
        assert self.close_code is not None
        message = self.close_reason.encode()[:123]
        try:
            await asyncio.wait_for(self._close_socket(message), CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            self.abort()

    async def _close_socket(self, message: bytes) -> None:
        assert self.close_code is not None
        with contextlib.suppress(ConnectionError):
            await self.socket.close(code=self.close_code, message=message)

    def abort(self) -> None:
        self.outbox.close()
        if self.transport is not None:
            self.transport.abort()

    def _fell_behind(self) -> None:
        """The client is more than max_outbound_bytes behind: dropped, reported as 1008."""
        self.ended(POLICY_VIOLATION)
        self._dropping = asyncio.get_running_loop().create_task(self._drop())

    async def _drop(self) -> None:
        """Offer the close frame, then abort: a graceful close would wait for the client to
        read megabytes it may never read, holding its socket open."""
        try:
            await self.close(POLICY_VIOLATION)
        finally:
            self.abort()


def opcode_for(data: bytes) -> WSMsgType:
    """A text frame when the bytes are UTF-8, else a binary frame (as PostToConnection)."""
    try:
        data.decode()
    except UnicodeDecodeError:
        return WSMsgType.BINARY
    return WSMsgType.TEXT


class ConnectionRegistry:
    """Open connections by id; the handlers' threads look them up while the loop changes it."""

    def __init__(self) -> None:
        self._connections: dict[str, LiveConnection] = {}
        self._lock = threading.Lock()

    def add(self, connection: LiveConnection) -> None:
        with self._lock:
            self._connections[connection.id] = connection

    def discard(self, connection: LiveConnection) -> None:
        with self._lock:
            if self._connections.get(connection.id) is connection:
                del self._connections[connection.id]

    def open_connection(self, connection_id: str) -> LiveConnection | None:
        """The connection if it is still open: API Gateway answers 410 for anything else."""
        with self._lock:
            connection = self._connections.get(connection_id)
        return connection if connection is not None and connection.is_open else None

    def partition(self, connection_ids: Iterable[str]) -> tuple[list[LiveConnection], list[str]]:
        """The open connections among `connection_ids`, and the ids that are gone."""
        found: list[LiveConnection] = []
        gone: list[str] = []
        with self._lock:
            for connection_id in connection_ids:
                connection = self._connections.get(connection_id)
                if connection is not None and connection.is_open:
                    found.append(connection)
                else:
                    gone.append(connection_id)
        return found, gone

    def all(self) -> list[LiveConnection]:
        with self._lock:
            return list(self._connections.values())

    def __len__(self) -> int:
        return len(self._connections)
