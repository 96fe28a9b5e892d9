"""In-memory ConnectionStore: the local gateway's embedded default and the tests' store."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence

from roomcast.adapters.live_members import LiveMembers
from roomcast.domain.errors import ConcurrentUpdate, ConnectionNotFound
from roomcast.domain.model import (
    Connection,
    ConnectionId,
    Departure,
    Membership,
    Room,
    RoomId,
    UserId,
    expiry_cutoff,
)
from roomcast.domain.results import Stats
from roomcast.ports import Clock, RoomLog


class InMemoryConnectionStore:
    """Thread-safe; honours expiry by the given clock exactly as the DynamoDB store does."""

    def __init__(self, clock: Clock, log: RoomLog | None = None) -> None:
        """`log`: the room log whose seq `room()` reports (none: every room is at 0)."""
        self._clock = clock
        self._log = log
        self._lock = threading.RLock()
        self._connections: dict[ConnectionId, Connection] = {}
        self._rooms: dict[RoomId, dict[ConnectionId, Membership]] = {}
        self._versions: dict[RoomId, int] = {}
        self._departures: dict[RoomId, dict[ConnectionId, Departure]] = {}
        self._live: dict[RoomId, LiveMembers] = {}  # dropped by every membership change

    def add(self, connection: Connection) -> None:
        with self._lock:
            self._discard(connection.id)
            self._connections[connection.id] = connection.as_new()

    def get(self, connection_id: ConnectionId) -> Connection | None:
        with self._lock:
            connection = self._connections.get(connection_id)
        if connection is None or connection.is_expired(self._clock.now_ms()):
            return None
        return connection

    def remove(self, connection_id: ConnectionId) -> Connection | None:
        with self._lock:
            removed = self._discard(connection_id)
            if removed is not None:
                for room_id in removed.rooms:
                    self._depart(room_id, Departure(removed.id, removed.user_id))
            return removed

    def join(
        self,
        connection: Connection,
        room_id: RoomId,
        joined_at: int,
        evict: Sequence[RoomId] = (),
    ) -> Connection:
        with self._lock:
            stored = self._connections.get(connection.id)
            if stored is None:
                raise ConnectionNotFound(connection.id.value)
            if stored.version != connection.version:
                raise ConcurrentUpdate(connection.id.value)
            for evicted in evict:
                self._room(evicted).pop(connection.id, None)
            self._moved([room_id, *evict])
            updated = stored.joining(room_id, joined_at, evict)
            self._room(room_id)[connection.id] = updated.membership(room_id)  # join order
            self._connections[connection.id] = updated
            self._prune_rooms(evict)
            return updated

    def leave(
        self, connection_id: ConnectionId, room_id: RoomId, user_id: UserId | None = None
    ) -> bool:
        with self._lock:
            stored = self._connections.get(connection_id)
            membership = self._rooms.get(room_id, {}).pop(connection_id, None)
            self._moved([room_id])
            self._prune_rooms([room_id])
            if stored is not None and stored.in_room(room_id):
                self._connections[connection_id] = stored.leaving(room_id)
            if membership is not None and user_id is not None:
                self._depart(room_id, Departure(connection_id, user_id))
            return membership is not None

    def claim_departures(
        self, room_id: RoomId, departures: Sequence[Departure]
    ) -> list[Departure]:
        with self._lock:
            pending = self._departures.get(room_id, {})
            claimed = [d for d in departures if pending.get(d.connection_id) == d]
            for departure in claimed:
                del pending[departure.connection_id]
            if not pending:
                self._departures.pop(room_id, None)
            return claimed

    def departed_rooms(self) -> Iterator[RoomId]:
        with self._lock:
            snapshot = sorted(self._departures)
        yield from snapshot

    def mark_announced(
        self, connection_id: ConnectionId, room_id: RoomId, departures: Sequence[RoomId] = ()
    ) -> None:
        with self._lock:
            stored = self._connections.get(connection_id)
            if stored is None:
                return
            announced = stored.announced(room_id, departures)
            if (announced.unannounced, announced.unannounced_departures) != (
                stored.unannounced, stored.unannounced_departures
            ):
                self._connections[connection_id] = announced

    def members(self, room_id: RoomId) -> list[Membership]:
        return list(self.room(room_id).members)

    def room(self, room_id: RoomId) -> Room:
        """Members and version read under one lock, so that they belong together."""
        seq = self._log.latest(room_id) if self._log is not None else 0
        cutoff = expiry_cutoff(self._clock.now_ms())
        with self._lock:
            version = self._versions.get(room_id, 0)
            members = self._live_members(room_id, cutoff)
            departures = tuple(sorted(self._departures.get(room_id, {}).values()))
        return Room(room_id, members, seq, version, departures)

    def _live_members(self, room_id: RoomId, cutoff: int) -> tuple[Membership, ...]:
        """The room's live members, from the list last built since its membership last
        changed (`_moved` drops it). Called under the lock."""
        known = self._live.get(room_id)
        live = (known.at(cutoff) if known is not None
                else LiveMembers.of(self._rooms.get(room_id, {}).values(), cutoff))
        self._live[room_id] = live
        return live.members

    def connections(self) -> Iterator[Connection]:
        with self._lock:
            snapshot = list(self._connections.values())
        yield from snapshot

    def stats(self) -> Stats:
        now = self._clock.now_ms()
        with self._lock:
            live = [c for c in self._connections.values() if not c.is_expired(now)]
        counts: dict[str, int] = {}
        for connection in live:
            for room_id in connection.rooms:
                counts[room_id.value] = counts.get(room_id.value, 0) + 1
        return Stats(total_connections=len(live), room_counts=counts)

    def _discard(self, connection_id: ConnectionId) -> Connection | None:
        connection = self._connections.pop(connection_id, None)
        if connection is not None:
            for room_id in connection.rooms:
                self._room(room_id).pop(connection_id, None)
            self._moved(connection.rooms)
            self._prune_rooms(connection.rooms)
        return connection

    def _depart(self, room_id: RoomId, departure: Departure) -> None:
        self._departures.setdefault(room_id, {})[departure.connection_id] = departure

    def _moved(self, room_ids: Iterable[RoomId]) -> None:
        for room_id in room_ids:
            self._versions[room_id] = self._versions.get(room_id, 0) + 1
            self._live.pop(room_id, None)

    def _room(self, room_id: RoomId) -> dict[ConnectionId, Membership]:
        return self._rooms.setdefault(room_id, {})

    def _prune_rooms(self, room_ids: Iterable[RoomId]) -> None:
        for room_id in list(room_ids):
            if not self._rooms.get(room_id, True):
                del self._rooms[room_id]
