"""A member on bare `websockets` at its defaults (keepalive ping every 20 s, 20 s to answer),
as users' own clients run, with no roomcast_client machinery between it and the socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class DefaultMember:
    def __init__(self, socket: ClientConnection, user_id: str) -> None:
        self.socket = socket
        self.user_id = user_id
        self.frames: list[dict[str, Any]] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, websocket_url: str, user_id: str) -> DefaultMember:
        return cls(await connect(f"{websocket_url}?userId={user_id}"), user_id)

    async def send(self, action: str, **fields: Any) -> None:
        await self.socket.send(json.dumps({"action": action, **fields}))

    def of(self, action: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("action") == action]

    def has_joined(self) -> bool:
        return bool(self.of("joinedRoom"))

    async def pong_seconds(self) -> float:
        """How long the server takes to answer a WebSocket ping (a control frame)."""
        started = time.monotonic()
        await asyncio.wait_for(await self.socket.ping(), 10)
        return time.monotonic() - started

    async def close(self) -> None:
        await self.socket.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.socket:
                self.frames.append(json.loads(raw))
