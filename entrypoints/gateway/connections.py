"""Open WebSocket connections: who they are, when they were last active, how they ended."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from aiohttp import web

from entrypoints.gateway.events import Caller, now_ms

NORMAL = 1000
GOING_AWAY = 1001
NO_STATUS = 1005
ABNORMAL = 1006

REASONS = {
    NORMAL: "Connection Closed Normally",
    GOING_AWAY: "Going away",
    NO_STATUS: "Client-side close frame status not set",
    ABNORMAL: "Connection Closed Abnormally",
    1009: "Message too big",
}


def reason_for(code: int, given: str = "") -> str:
    return given or REASONS.get(code, "")


@dataclass
class LiveConnection:
    caller: Caller
    socket: web.WebSocketResponse
    last_active_at: int = field(default_factory=now_ms)
    last_active_monotonic: float = field(default_factory=time.monotonic)
    close_code: int | None = None
    close_reason: str = ""
    finished: asyncio.Event = field(default_factory=asyncio.Event)

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

    async def close(self, code: int, reason: str = "") -> None:
        """Close from the gateway's side (DeleteConnection, timeouts, shutdown); idempotent."""
        self.ended(code, reason)
        assert self.close_code is not None
        with contextlib.suppress(ConnectionError):
            await self.socket.close(code=self.close_code, message=self.close_reason.encode()[:123])

    async def send(self, data: bytes) -> None:
        """Deliver as a text frame when the bytes are UTF-8, else as a binary frame."""
        try:
            text = data.decode()
        except UnicodeDecodeError:
            await self.socket.send_bytes(data)
        else:
            await self.socket.send_str(text)


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, LiveConnection] = {}

    def add(self, connection: LiveConnection) -> None:
        self._connections[connection.id] = connection

    def discard(self, connection: LiveConnection) -> None:
        if self._connections.get(connection.id) is connection:
            del self._connections[connection.id]

    def open_connection(self, connection_id: str) -> LiveConnection | None:
        """The connection if it is still open: API Gateway answers 410 for anything else."""
        connection = self._connections.get(connection_id)
        return connection if connection is not None and connection.is_open else None

    def all(self) -> list[LiveConnection]:
        return list(self._connections.values())

    def __len__(self) -> int:
        return len(self._connections)
