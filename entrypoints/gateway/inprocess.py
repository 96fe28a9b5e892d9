"""A Notifier that delivers straight into the gateway's live connections, from handler threads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from roomcast.domain.errors import ConnectionGone, DeliveryFailed, FailureKind
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult, Failure
from roomcast.entrypoints.gateway.connections import ConnectionRegistry, LiveConnection


class InProcessNotifier:
    """`roomcast serve --notifier inprocess` hands it to roomcast's own handlers in place of
    the PostToConnection adapter.

    The same answers as the management API (ConnectionGone for an unknown or closed
    connection, DeliveryFailed over `max_post_bytes`, a probe that finds the gone ones)
    without a signed HTTP request per recipient. A frame is accepted once the connection is
    found open, as a post is (`Outbox`); the frames reach the outboxes on the event loop,
    one `call_soon_threadsafe` per send or broadcast."""

    def __init__(
        self,
        connections: ConnectionRegistry,
        loop: asyncio.AbstractEventLoop,
        max_post_bytes: int,
    ) -> None:
        self._connections = connections
        self._loop = loop
        self._max_post_bytes = max_post_bytes

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        data = self._encoded(frame)
        if data is None:
            raise DeliveryFailed(FailureKind.PAYLOAD_TOO_LARGE, _too_large(self._max_post_bytes))
        connection = self._connections.open_connection(connection_id.value)
        if connection is None or not self._hand_over([connection], data):
            raise ConnectionGone(f"{connection_id.value} is gone")

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        data = self._encoded(frame)
        if data is None:
            failure = Failure(FailureKind.PAYLOAD_TOO_LARGE, _too_large(self._max_post_bytes))
            return BroadcastResult(failed=dict.fromkeys(connection_ids, failure))
        found, gone = self._connections.partition(c.value for c in connection_ids)
        if found and not self._hand_over(found, data):
            found, gone = [], [c.value for c in connection_ids]
        return BroadcastResult(
            delivered=len(found), gone=frozenset(ConnectionId(c) for c in gone)
        )

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        _, gone = self._connections.partition(c.value for c in connection_ids)
        return frozenset(ConnectionId(c) for c in gone)

    def _encoded(self, frame: Frame) -> bytes | None:
        data = frame.encode()
        return data if len(data) <= self._max_post_bytes else None

    def _hand_over(self, connections: list[LiveConnection], data: bytes) -> bool:
        """Queue `data` for each connection on the loop; False once the gateway has stopped."""
        try:
            self._loop.call_soon_threadsafe(_deliver_all, connections, data)
        except RuntimeError:  # the loop is closed
            return False
        return True


def _deliver_all(connections: list[LiveConnection], data: bytes) -> None:
    for connection in connections:
        connection.deliver(data)


def _too_large(limit: int) -> str:
    return f"payload too large (413): over {limit} bytes"
