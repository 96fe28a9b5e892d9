"""Connections as the store tests make them, and joins from a fresh read of the store."""

from __future__ import annotations

from roomcast.adapters.clocks import FixedClock
from roomcast.domain.model import NO_GRANT, Connection, ConnectionId, Grant, RoomId, UserId

ROOM = RoomId("lobby")
OTHER = RoomId("games")


def make_connection(
    clock: FixedClock, name: str, ttl: int = 7200, grant: Grant = NO_GRANT
) -> Connection:
    now = clock.now_ms()
    return Connection(
        id=ConnectionId(f"conn-{name}"),
        user_id=UserId(name),
        connected_at=now,
        expires_at=now // 1000 + ttl,
        source_ip="127.0.0.1",
        user_agent="pytest",
        grant=grant,
    )


def joined(store, clock, connection, room=ROOM, evict=()):  # type: ignore[no-untyped-def]
    current = store.get(connection.id)
    return store.join(current, room, clock.now_ms(), evict)
