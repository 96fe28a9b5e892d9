"""A fake Notifier that records frames per connection and can be told who is gone or failing."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from roomcast.domain.errors import ConnectionGone, DeliveryFailed, FailureKind
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult, Failure


class FakeNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[ConnectionId, list[dict[str, Any]]] = defaultdict(list)
        self._gone: set[ConnectionId] = set()
        self._failing: dict[ConnectionId, Failure] = {}

    # -- steering ----------------------------------------------------------------

    def mark_gone(self, *connection_ids: ConnectionId) -> None:
        with self._lock:
            self._gone.update(connection_ids)

    def mark_failing(
        self,
        connection_id: ConnectionId,
        kind: FailureKind = FailureKind.FORBIDDEN,
        message: str | None = None,
    ) -> None:
        """Fail every frame to the connection as `kind`, with `message` (the kind's own
        words unless given) for the logs."""
        with self._lock:
            self._failing[connection_id] = Failure(kind, message or kind.value)

    def stop_failing(self, connection_id: ConnectionId) -> None:
        with self._lock:
            self._failing.pop(connection_id, None)

    # -- inspection --------------------------------------------------------------

    def frames_for(self, connection_id: ConnectionId) -> list[dict[str, Any]]:
        """Every frame delivered to the connection, decoded, oldest first."""
        with self._lock:
            return list(self._sent.get(connection_id, []))

    def actions_for(self, connection_id: ConnectionId) -> list[str]:
        return [frame["action"] for frame in self.frames_for(connection_id)]

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()

    # -- the port ----------------------------------------------------------------

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        with self._lock:
            if connection_id in self._gone:
                raise ConnectionGone(connection_id.value)
            if connection_id in self._failing:
                failure = self._failing[connection_id]
                raise DeliveryFailed(failure.kind, failure.message)
            self._sent[connection_id].append(json.loads(frame.encode()))

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        delivered, gone, failed = 0, set(), {}
        for connection_id in connection_ids:
            try:
                self.send(connection_id, frame)
                delivered += 1
            except ConnectionGone:
                gone.add(connection_id)
            except DeliveryFailed as failure:
                failed[connection_id] = Failure.of(failure)
        return BroadcastResult(delivered=delivered, gone=frozenset(gone), failed=failed)

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        with self._lock:
            return frozenset(c for c in connection_ids if c in self._gone)
