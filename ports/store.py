"""ConnectionStore: where connections and room memberships live."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from roomcast.domain.model import (
    Connection,
    ConnectionId,
    Departure,
    Membership,
    Room,
    RoomId,
    UserId,
)
from roomcast.domain.results import Stats


class ConnectionStore(Protocol):
    """Connections and memberships. Reads skip expired records; writes are atomic.

    "Expired" means the record's `is_expired` by the store's clock: a real table keeps
    expired items until TTL deletes them, hours later.
    """

    def add(self, connection: Connection) -> None:
        """Store a new connection (replacing any record with the same id)."""
        ...

    def get(self, connection_id: ConnectionId) -> Connection | None:
        """The live connection, or None when it is missing or expired."""
        ...

    def remove(self, connection_id: ConnectionId) -> Connection | None:
        """Delete a connection and all its memberships, leaving its Departure in each of its
        rooms in the same write; return what was deleted (None when this call cannot tell
        it did: then the departures are still there for the next reader of the room)."""
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
        (then nothing is written). Returns the connection as stored afterwards, with
        `room_id` among its unannounced rooms and `evict` among its unannounced
        departures (see Connection).
        """
        ...

    def leave(
        self, connection_id: ConnectionId, room_id: RoomId, user_id: UserId | None = None
    ) -> bool:
        """Atomically drop one membership; False if there was none to drop. With `user_id`,
        the room keeps a Departure of it, written with the leave.

        Like `join`, a write whose commit was followed by a lost answer and a retry by the
        transport is recognised as this call's own and reported as done."""
        ...

    def mark_announced(
        self, connection_id: ConnectionId, room_id: RoomId, departures: Sequence[RoomId] = ()
    ) -> None:
        """Drop `room_id` from the connection's unannounced rooms and `departures` from its
        unannounced departures (bumping its version); nothing happens when none of them is
        there or the connection is gone."""
        ...

    def claim_departures(
        self, room_id: RoomId, departures: Sequence[Departure]
    ) -> list[Departure]:
        """Take `departures` off the room and return those that were still there: the caller
        now tells the room of them, and no other claim gets them."""
        ...

    def departed_rooms(self) -> Iterator[RoomId]:
        """Every room with departures nobody has claimed (for the cleanup job)."""
        ...

    def members(self, room_id: RoomId) -> list[Membership]:
        """Every live membership of a room, read consistently, all pages."""
        ...

    def room(self, room_id: RoomId) -> Room:
        """The room's members (as `members` reads them, in join order) and, in the same
        read, the seq of its latest message as the room log has it, the version of its
        membership and its unclaimed departures. A store may answer from a member list it
        read before, at the same version."""
        ...

    def connections(self) -> Iterator[Connection]:
        """Every stored connection, expired ones included (for the cleanup job)."""
        ...

    def stats(self) -> Stats:
        """Live connections in total and members per room."""
        ...
