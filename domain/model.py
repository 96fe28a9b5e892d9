"""Value types and entities: connections, rooms and memberships."""

from __future__ import annotations

import enum
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Final

from attrs import evolve, field, frozen

from roomcast.domain.errors import InvalidRoomId, InvalidUserId

ROOM_ID_PATTERN = re.compile(r"[A-Za-z0-9\-_.:]{1,128}")
MAX_USER_ID_BYTES = 128
# Control (NUL, newlines, ESC...), format (bidi overrides, zero-width characters) and
# surrogate code points: none may reach room-mates' screens or break a frame's UTF-8.
REFUSED_USER_ID_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


@frozen(order=True)
class ConnectionId:
    value: str

    def __str__(self) -> str:
        return self.value


@frozen(order=True)
class UserId:
    value: str

    def __str__(self) -> str:
        return self.value


ANONYMOUS = UserId("anonymous")


def valid_user_id(value: str) -> UserId:
    """The one rule for a user id from any source: 1-128 bytes of UTF-8, nothing invisible."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidUserId() from None
    if not 1 <= size <= MAX_USER_ID_BYTES:
        raise InvalidUserId()
    if any(unicodedata.category(c) in REFUSED_USER_ID_CATEGORIES for c in value):
        raise InvalidUserId()
    return UserId(value)


def _check_room_id(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or ROOM_ID_PATTERN.fullmatch(value) is None:
        raise InvalidRoomId(value)


@frozen(order=True)
class RoomId:
    value: str = field(validator=_check_room_id)

    def __str__(self) -> str:
        return self.value


class Permission(enum.Enum):
    """What a grant may give in a room (domain/access.py decides what each allows)."""

    JOIN = "join"  # join, receive the room's frames, replay its history
    SEND = "send"  # send messages into it


Permissions = frozenset[Permission]
NOTHING: Permissions = frozenset()
WILDCARD = "*"


@frozen
class Grant:
    """The rooms an identity may reach: room patterns (a room id, or a prefix ending in
    `*`; `*` alone is every room) and what each gives; matching entries add up. Built by
    domain/access.py's `parse_grant`, canonical (sorted, no empty entries), so grants
    that give the same are equal and encode the same."""

    entries: tuple[tuple[str, Permissions], ...] = ()

    def permissions_in(self, room_id: RoomId) -> Permissions:
        given: set[Permission] = set()
        for pattern, permissions in self.entries:
            if _matches(pattern, room_id.value):
                given |= permissions
        return frozenset(given) or NOTHING

    def as_claim(self) -> dict[str, list[str]]:
        """The grant as a `rooms` claim, which parse_grant reads back as this grant."""
        return {pattern: sorted(p.value for p in given) for pattern, given in self.entries}

    def as_json(self) -> str:
        """The claim as one compact JSON string (an authorizer's context carries it so)."""
        return json.dumps(self.as_claim(), separators=(",", ":"), sort_keys=True)

    def __bool__(self) -> bool:
        return bool(self.entries)


def _matches(pattern: str, room: str) -> bool:
    if pattern.endswith(WILDCARD):
        return room.startswith(pattern[: -len(WILDCARD)])
    return room == pattern


NO_GRANT = Grant()


class _NoClaim:
    def __repr__(self) -> str:
        return "NO_CLAIM"


# A token or an authorizer that says nothing of rooms (JSON's null is a claim, and no grant).
NO_CLAIM: Final = _NoClaim()


@frozen
class Verified:
    """What a verifier or an authorizer vouches for: the user, and the `rooms` claim exactly
    as it came (NO_CLAIM when there was none). The domain reads the claim (`parse_grant`);
    adapters only carry it."""

    user_id: UserId
    rooms: object = field(default=NO_CLAIM, hash=False)  # a claim may be a dict


# Shared, so that a connection in no room carries no empty sets of its own (what memory a
# connection takes: `make bench`).
NO_ROOMS: frozenset[RoomId] = frozenset()


def expiry_cutoff(now_ms: int) -> int:
    """The latest `expires_at` (epoch seconds) that has passed at `now_ms`: a connection or
    membership is expired exactly when its `expires_at` is at most this (a store's query
    filters on it)."""
    return now_ms // 1000


@frozen
class Membership:
    """One connection's presence in one room; it expires with its connection.
    `permissions`: what the connection's grant gave in the room when it joined (a grant
    never changes, so a send reads it here rather than the connection)."""

    connection_id: ConnectionId
    room_id: RoomId
    user_id: UserId
    joined_at: int
    expires_at: int
    permissions: Permissions = NOTHING

    def is_expired(self, now_ms: int) -> bool:
        return self.expires_at <= expiry_cutoff(now_ms)


@frozen
class Message:
    """A message said in a room; `seq` is its place in the room's log (0 until it has one)."""

    room_id: RoomId
    text: str
    sender: UserId
    timestamp: int
    seq: int = 0


@frozen(order=True)
class Departure:
    """A member who left a room (removed, or a leave) that the room has not yet been told
    of. The store writes it with the removal or leave and keeps it with the room until a
    claim takes it: whoever claims it tells the room `userLeft`, so no one tells it twice."""

    connection_id: ConnectionId
    user_id: UserId


@frozen
class Room:
    """A room as one read sees it: its live members, the seq of its latest message (0 before
    the first), the version of its membership, which every join and leave moves (a member
    list read at the same version is still the room's), and the departures nobody has
    claimed yet (sorted)."""

    id: RoomId
    members: tuple[Membership, ...]
    seq: int = 0
    version: int = 0
    departures: tuple[Departure, ...] = ()


@frozen
class Connection:
    """A WebSocket connection as the store knows it.

    `connected_at` and room join times are epoch milliseconds; `expires_at` is epoch
    seconds (the DynamoDB TTL unit). `rooms` maps each joined room to its join time.
    `version` is an optimistic-concurrency token the store bumps on every room change.
    `unannounced` holds the rooms joined whose members have not yet been told `userJoined`,
    `unannounced_departures` the rooms a join evicted it from that have not yet been told
    `userLeft`. Both are written with the join, so a join whose commit outlived a failure is
    announced by the client's retry, and cleared once the rooms have heard it.
    `grant`: the rooms its identity grants, as checked on connect (kept only when room
    access is `token`).
    """

    id: ConnectionId
    user_id: UserId
    connected_at: int
    expires_at: int
    source_ip: str | None = None
    user_agent: str | None = None
    rooms: dict[RoomId, int] = field(factory=dict, hash=False)
    version: int = 0
    unannounced: frozenset[RoomId] = NO_ROOMS
    unannounced_departures: frozenset[RoomId] = NO_ROOMS
    grant: Grant = NO_GRANT

    def is_expired(self, now_ms: int) -> bool:
        return self.expires_at <= expiry_cutoff(now_ms)

    def in_room(self, room_id: RoomId) -> bool:
        return room_id in self.rooms

    def rooms_oldest_first(self) -> list[RoomId]:
        return sorted(self.rooms, key=lambda room: (self.rooms[room], room.value))

    def membership(self, room_id: RoomId) -> Membership:
        return Membership(
            self.id, room_id, self.user_id, self.rooms[room_id], self.expires_at,
            self.grant.permissions_in(room_id),
        )

    def as_new(self) -> Connection:
        """The connection as a store records it on connect: in no room, nothing pending."""
        return evolve(
            self, rooms={}, unannounced=NO_ROOMS, unannounced_departures=NO_ROOMS, version=0
        )

    def is_unannounced_in(self, room_id: RoomId) -> bool:
        return room_id in self.unannounced and self.in_room(room_id)

    def joining(self, room_id: RoomId, joined_at: int, evict: Iterable[RoomId] = ()) -> Connection:
        """The connection after joining `room_id` and leaving `evict`, all to be announced."""
        evicted = {room for room in evict if room in self.rooms and room != room_id}
        rooms = {room: at for room, at in self.rooms.items() if room not in evicted}
        rooms[room_id] = joined_at
        departures = (self.unannounced_departures | evicted) - {room_id}
        return self._changed(rooms, self.unannounced | {room_id}, departures)

    def leaving(self, room_id: RoomId) -> Connection:
        rooms = {room: at for room, at in self.rooms.items() if room != room_id}
        return self._changed(rooms, self.unannounced, self.unannounced_departures)

    def announced(self, room_id: RoomId, departures: Iterable[RoomId] = ()) -> Connection:
        """The connection once `room_id` has heard its join and `departures` its leaving."""
        remaining = self.unannounced_departures - frozenset(departures)
        return self._changed(self.rooms, self.unannounced - {room_id}, remaining)

    def _changed(
        self, rooms: dict[RoomId, int], joins: frozenset[RoomId], departures: frozenset[RoomId]
    ) -> Connection:
        return evolve(
            self,
            rooms=rooms,
            unannounced=frozenset(room for room in joins if room in rooms) or NO_ROOMS,
            unannounced_departures=(
                frozenset(room for room in departures if room not in rooms) or NO_ROOMS
            ),
            version=self.version + 1,
        )
