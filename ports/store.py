"""ConnectionStore: where connections and room memberships live."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from domain.model import Connection, ConnectionId, Membership, RoomId
from domain.results import Stats


class ConnectionStore(Protocol):
    """Connections and memberships. Reads skip expired records; writes are atomic.

    "Expired" means `expires_at` (epoch seconds) is not in the future by the store's
    clock: a real table keeps expired items until TTL deletes them, hours later.
    """

    def add(self, connection: Connection) -> None:
        """Store a new connection (replacing any record with the same id)."""
        ...

    def get(self, connection_id: ConnectionId) -> Connection | None:
        """The live connection, or None when it is missing or expired."""
        ...

    def remove(self, connection_id: ConnectionId) -> Connection | None:
        """Delete a connection and all its memberships; return what was deleted."""
        ...

    def join(
        self,
        connection: Connection,
        room_id: RoomId,
        joined_at: int,
        evict: Sequence[RoomId] = (),
    ) -> Connection:
        """Atomically add a membership in `room_id` and drop those in `evict`.

        Succeeds only if the stored connection still has `connection.version`;
        raises ConcurrentUpdate if it changed and ConnectionNotFound if it is gone
        (then nothing is written). Returns the connection as stored afterwards.
        """
        ...

    def leave(self, connection_id: ConnectionId, room_id: RoomId) -> bool:
        """Atomically drop one membership; False if there was none to drop."""
        ...

    def members(self, room_id: RoomId) -> list[Membership]:
        """Every live membership of a room, read consistently, all pages."""
        ...

    def connections(self) -> Iterator[Connection]:
        """Every stored connection, expired ones included (for the cleanup job)."""
        ...

    def stats(self) -> Stats:
        """Live connections in total and members per room."""
        ...
