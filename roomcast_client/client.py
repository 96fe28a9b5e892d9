"""RoomcastClient: rooms and messages over one socket that comes back by itself.

Connect with query parameters, a heartbeat, and after every close it did not ask for a
reconnect with exponential backoff and full jitter, rejoining each room with `since` so
that every missed message arrives once and in seq order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from roomcast_client.continuity import Fill, Gap, Outcome, RoomTracker

log = logging.getLogger(__name__)

NO_CLOSE_FRAME = 1006
# A refused handshake that trying again cannot fix: the credentials are wrong or expired.
FINAL_HANDSHAKE_STATUSES = frozenset({401, 403})


class RoomcastClient:
    """Frames other than `pong` arrive in `inbox`, messages of the rooms joined through it
    once each and in seq order; every close code ends up in `closes`; messages that could
    not be recovered are reported in `gaps`.

    A `ping` action every 30 s while open. After any close but its own `disconnect()` it
    reconnects with the same query, waiting a random time up to `reconnect_delay` x 2^n
    (capped at `max_reconnect_delay`), forever unless `max_reconnect_attempts` is set or the
    handshake is refused with 401/403, and rejoins every room with `since`.
    """

    def __init__(
        self,
        url: str,
        query: Mapping[str, str] | None = None,
        *,
        heartbeat_interval: float = 30.0,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        max_reconnect_attempts: int | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.query = dict(query or {})
        self.heartbeat_interval = heartbeat_interval
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.max_reconnect_attempts = max_reconnect_attempts
        self.open_timeout = open_timeout
        self.reconnect_attempts = 0
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closes: asyncio.Queue[int] = asyncio.Queue()
        self.gaps: asyncio.Queue[Gap] = asyncio.Queue()
        self.last_pong: int | None = None
        self.socket: ClientConnection | None = None
        self.rooms = RoomTracker(time.monotonic)
        self._stopped = False
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
        self._stopped = False
        self.socket = await connect(self.full_url, open_timeout=self.open_timeout)
        self.reconnect_attempts = 0
        self._start(self._read(self.socket))
        self._heartbeat_task = self._start(self._heartbeat(self.socket))

    async def disconnect(self) -> None:
        """Close with 1000 and stay closed."""
        self._stopped = True
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

    async def join_room(self, room_id: str, since: int | None = None) -> bool:
        """Join, and keep the room's messages in order from then on (and across reconnects).
        `since`: also replay what the room said after that seq."""
        self.rooms.joining(room_id)
        if since is None:
            return await self.send("joinRoom", roomId=room_id)
        return await self.send("joinRoom", roomId=room_id, since=since)

    async def leave_room(self, room_id: str) -> bool:
        self.rooms.left(room_id)
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
        self._tick()
        if isinstance(frame, dict) and frame.get("action") == "pong":
            self.last_pong = frame.get("timestamp")
            return
        if not isinstance(frame, dict):
            self.inbox.put_nowait(frame)
            return
        action = frame.get("action")
        if action == "error":
            log.error("server error: %s", frame.get("message"))
        if action == "joinedRoom":
            self._apply(self.rooms.joined(frame))
        elif action == "message":
            self._apply(self.rooms.message(frame))
        else:
            if action == "leftRoom":  # also when joining one room too many left the oldest
                self.rooms.left(str(frame.get("roomId")))
            self.inbox.put_nowait(frame)

    def _apply(self, outcome: Outcome) -> None:
        for gap in outcome.gaps:
            self._report(gap)
        for frame in outcome.deliver:
            self.inbox.put_nowait(frame)
        if outcome.fill is not None:
            self._start(self._fill(outcome.fill))
        if outcome.tick_after is not None:
            asyncio.get_running_loop().call_later(outcome.tick_after, self._tick)

    def _tick(self) -> None:
        for outcome in self.rooms.tick():
            self._apply(outcome)

    def _report(self, gap: Gap) -> None:
        log.warning("messages %d-%d of %s could not be recovered", gap.first, gap.last,
                    gap.room_id)
        self.gaps.put_nowait(gap)

    async def _heartbeat(self, socket: ClientConnection) -> None:
        """API Gateway drops a connection idle for 10 minutes: keep it busy."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.heartbeat_interval)
                await socket.send(json.dumps({"action": "ping"}))

    def _should_reconnect(self, code: int) -> bool:
        if self._stopped:
            return False
        limit = self.max_reconnect_attempts
        return limit is None or self.reconnect_attempts < limit

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to the capped exponential delay of `attempt`."""
        ceiling = min(self.max_reconnect_delay, self.reconnect_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    async def _reconnect(self) -> None:
        while self._should_reconnect(NO_CLOSE_FRAME):
            self.reconnect_attempts += 1
            delay = self.backoff(self.reconnect_attempts)
            log.info("reconnecting in %.2fs (attempt %d)", delay, self.reconnect_attempts)
            await asyncio.sleep(delay)
            if self._stopped:
                return
            try:
                await self.connect()
            except InvalidStatus as refused:
                if refused.response.status_code in FINAL_HANDSHAKE_STATUSES:
                    log.error("reconnect refused for good: %s", refused)
                    return
                log.warning("reconnect attempt %d failed: %s", self.reconnect_attempts, refused)
                continue
            except (OSError, InvalidHandshake, TimeoutError) as failure:
                log.warning("reconnect attempt %d failed: %s", self.reconnect_attempts, failure)
                continue
            await self._resume()
            return

    async def _resume(self) -> None:
        """Rejoin every room, asking for what was said since the last message delivered."""
        for room_id in self.rooms.rooms:
            await self._fill(self.rooms.resume(room_id))

    async def _fill(self, fill: Fill) -> None:
        await self.send(**fill.as_frame())
