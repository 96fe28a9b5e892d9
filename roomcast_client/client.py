"""RoomcastClient: connect with query parameters, rooms and messages, heartbeat, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

log = logging.getLogger(__name__)

NO_RECONNECT_CODES = frozenset({1000, 1001})
NO_CLOSE_FRAME = 1006


class RoomcastClient:
    """Frames other than `pong` arrive in `inbox`; every close code ends up in `closes`.

    As the seed's browser client: a `ping` action every 30 s while open; after a close
    other than 1000/1001, reconnect with the same query after 1 s, 2 s, 4 s, ... until
    `max_reconnect_attempts` tries in a row have failed.
    """

    def __init__(
        self,
        url: str,
        query: Mapping[str, str] | None = None,
        *,
        heartbeat_interval: float = 30.0,
        reconnect_delay: float = 1.0,
        max_reconnect_attempts: int = 5,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.query = dict(query or {})
        self.heartbeat_interval = heartbeat_interval
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_attempts = max_reconnect_attempts
        self.open_timeout = open_timeout
        self.reconnect_attempts = 0
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closes: asyncio.Queue[int] = asyncio.Queue()
        self.last_pong: int | None = None
        self.socket: ClientConnection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat_task: asyncio.Task[None] | None = None

    @property
    def full_url(self) -> str:
        return f"{self.url}?{urlencode(self.query)}" if self.query else self.url

    @property
    def is_open(self) -> bool:
        return self.socket is not None and self.socket.close_code is None

    async def connect(self) -> None:
        """Open the socket; raises websockets' InvalidStatus when the handshake is refused."""
        # websockets' defaults stay on, as users keep them: a keepalive ping every 20 s
        # (20 s to answer) and a 1 MiB frame limit, above API Gateway's 128 KB.
        self.socket = await connect(self.full_url, open_timeout=self.open_timeout)
        self.reconnect_attempts = 0
        self._start(self._read(self.socket))
        self._heartbeat_task = self._start(self._heartbeat(self.socket))

    async def disconnect(self) -> None:
        """Close with 1000 and stay closed."""
        self.max_reconnect_attempts = 0
        if self.socket is not None:
            await self.socket.close(1000, "Client disconnect")
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> RoomcastClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    # -- the protocol ------------------------------------------------------------

    async def send(self, action: str, **fields: Any) -> bool:
        if self.socket is None or not self.is_open:
            log.warning("not connected: %s not sent", action)
            return False
        await self.socket.send(json.dumps({"action": action, **fields}))
        return True

    async def join_room(self, room_id: str) -> bool:
        return await self.send("joinRoom", roomId=room_id)

    async def leave_room(self, room_id: str) -> bool:
        return await self.send("leaveRoom", roomId=room_id)

    async def send_message(self, room_id: str, message: str) -> bool:
        return await self.send("sendMessage", roomId=room_id, message=message)

    async def ping(self) -> bool:
        return await self.send("ping")

    async def receive(self, timeout: float | None = None) -> dict[str, Any]:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    # -- behind the scenes -------------------------------------------------------

    def _start(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _read(self, socket: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in socket:
                self._take(raw)
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
        code = socket.close_code or NO_CLOSE_FRAME
        self.closes.put_nowait(code)
        if self._should_reconnect(code):
            await self._reconnect()

    def _take(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            log.error("not a JSON frame: %.80r", raw)
            return
        if isinstance(frame, dict) and frame.get("action") == "pong":
            self.last_pong = frame.get("timestamp")
            return
        if isinstance(frame, dict) and frame.get("action") == "error":
            log.error("server error: %s", frame.get("message"))
        self.inbox.put_nowait(frame)

    async def _heartbeat(self, socket: ClientConnection) -> None:
        """API Gateway drops a connection idle for 10 minutes: keep it busy."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.heartbeat_interval)
                await socket.send(json.dumps({"action": "ping"}))

    def _should_reconnect(self, code: int) -> bool:
        return code not in NO_RECONNECT_CODES and (
            self.reconnect_attempts < self.max_reconnect_attempts
        )

    async def _reconnect(self) -> None:
        while self._should_reconnect(NO_CLOSE_FRAME):
            self.reconnect_attempts += 1
            delay = self.reconnect_delay * 2 ** (self.reconnect_attempts - 1)
            log.info("reconnecting in %.1fs (attempt %d)", delay, self.reconnect_attempts)
            await asyncio.sleep(delay)
            try:
                await self.connect()
                return
            except (OSError, InvalidHandshake, TimeoutError) as failure:
                log.warning("reconnect attempt %d failed: %s", self.reconnect_attempts, failure)
