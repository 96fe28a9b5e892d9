"""Notifier: pushes frames to connected clients (PostToConnection in production)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult


class Notifier(Protocol):
    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        """Deliver one frame; raise ConnectionGone (410) or DeliveryFailed, of the
        FailureKind the notifier found (its HTTP status, a timeout...)."""
        ...

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        """Deliver one frame to many connections; never raises for a recipient's failure,
        but reports it in `failed`, of the kind `send` would have raised."""
        ...

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        """Probe connections (GetConnection) and return those that no longer exist."""
        ...
