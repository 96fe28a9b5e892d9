"""In-memory RoomLog: the local gateway's embedded default and the tests' log."""

from __future__ import annotations

import threading
import uuid
from collections import deque

from attrs import evolve

from roomcast.domain.history import Replay, Retention, replay_of
from roomcast.domain.model import Message, RoomId
from roomcast.ports import Clock


class InMemoryRoomLog:
    """Thread-safe; forgets messages by the given clock exactly as the DynamoDB log does."""

    def __init__(self, clock: Clock, retention: Retention | None = None) -> None:
        self._clock = clock
        self._retention = retention or Retention()
        self._lock = threading.Lock()
        self._latest: dict[RoomId, int] = {}
        self._kept: dict[RoomId, deque[Message]] = {}
        self.epoch = uuid.uuid4().hex[:12]  # this process's numbering, gone when it ends

    def append(
        self, message: Message, after: int, members_version: int | None = None
    ) -> Message:
        """The lock orders every append; the memory store's member reads are never stale."""
        with self._lock:
            seq = self._latest.get(message.room_id, 0) + 1
            self._latest[message.room_id] = seq
            logged = evolve(message, seq=seq)
            if self._retention.keeps_messages:
                kept = self._kept.setdefault(
                    message.room_id, deque(maxlen=self._retention.messages)
                )
                kept.append(logged)
        return logged

    def replay(self, room_id: RoomId, since: int, until: int) -> Replay:
        now_s = self._clock.now_ms() // 1000
        with self._lock:
            kept = list(self._kept.get(room_id, ()))
        live = [m for m in kept if self._retention.expires_at(m.timestamp) > now_s]
        return replay_of(live, since, until)

    def latest(self, room_id: RoomId) -> int:
        with self._lock:
            return self._latest.get(room_id, 0)
