"""A connection's outbound frames: queued at once, written by a task of its own, bounded."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType

Send = Callable[[bytes, WSMsgType], Awaitable[None]]


class Outbox:
    """API Gateway answers PostToConnection before the client has read anything, and a
    client that stops reading never slows anyone else down.

    Every frame for a connection (posted through the management API, by the in-process
    notifier, or the gateway's own error frames) is put in its outbox, which returns at once;
    a writer task, started when there is something to write and gone when the outbox is
    empty, sends the frames in order. A client that falls more than `max_bytes` behind is
    dropped (`on_overflow`), so it can hold only its own memory."""

    def __init__(self, send: Send, max_bytes: int, on_overflow: Callable[[], None]) -> None:
        self._send = send
        self._max_bytes = max_bytes
        self._on_overflow = on_overflow
        self._frames: deque[tuple[bytes, WSMsgType]] = deque()
        self._pending_bytes = 0
        self._writer: asyncio.Task[None] | None = None
        self.overflowed = False
        self.closed = False

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def put(self, data: bytes, opcode: WSMsgType = WSMsgType.TEXT) -> bool:
        """Queue one frame; False when the outbox no longer takes any (closed or overflowed)."""
        if self.closed:
            return False
        if self._pending_bytes + len(data) > self._max_bytes:
            self.overflowed = True
            self.close()
            self._on_overflow()
            return False
        self._frames.append((data, opcode))
        self._pending_bytes += len(data)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        return True

    def close(self) -> None:
        """Take no more frames and drop the queued ones (the connection is going away)."""
        self.closed = True
        self._frames.clear()
        self._pending_bytes = 0
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()

    async def _write_all(self) -> None:
        try:
            while self._frames:
                frame = self._frames[0]
                await self._send(*frame)
                if self._frames and self._frames[0] is frame:
                    self._frames.popleft()
                    self._pending_bytes -= len(frame[0])
        except (ConnectionError, RuntimeError):
            self.close()  # the socket is closing: what is left can no longer be delivered
        finally:
            self._writer = None
