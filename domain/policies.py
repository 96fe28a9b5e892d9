"""Pure policies: each takes what is known and returns a decision or raises a DomainError."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import field, frozen, validators

from roomcast.domain.commands import DEFAULT_MAX_MESSAGE_BYTES
from roomcast.domain.errors import NotInRoom, RoomFull
from roomcast.domain.model import (
    MAX_USER_ID_BYTES,
    Connection,
    ConnectionId,
    Membership,
    RoomId,
    UserId,
)

TWO_HOURS = 2 * 60 * 60
HANDSHAKE_GRACE_MS = 30_000
POST_TO_CONNECTION_LIMIT_BYTES = 128 * 1024
# The most one listed member can add to joinedRoom: a 128-byte id made only of `"` or `\`
# (each escaped to two bytes), its quotes and a comma. Non-ASCII is sent as raw UTF-8 and
# control characters are refused, so nothing grows more.
WORST_MEMBER_BYTES = 2 * MAX_USER_ID_BYTES + 3
# 250 * 259 B + the envelope is about 65 KB: half of what PostToConnection takes.
DEFAULT_MAX_MEMBERS_IN_JOINED_ROOM = 250
# action, a 128-byte roomId, memberCount, the joiner's userId escaped (up to 258 B), seq,
# recovered and replayed: under 600 B, rounded up.
JOINED_ROOM_ENVELOPE_BYTES = 1024
MAX_MEMBERS_IN_JOINED_ROOM = (
    POST_TO_CONNECTION_LIMIT_BYTES - JOINED_ROOM_ENVELOPE_BYTES
) // WORST_MEMBER_BYTES


@frozen
class Limits:
    """Configurable limits. By default a connection is in one room at a time (joining
    another leaves it), lives as long as API Gateway keeps one, and may join a room of
    any size."""

    max_rooms_per_connection: int = 1
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    connection_ttl_seconds: int = TWO_HOURS
    max_members_per_room: int | None = field(
        default=None, validator=validators.optional(validators.ge(1))
    )
    max_members_in_joined_room: int = field(
        default=DEFAULT_MAX_MEMBERS_IN_JOINED_ROOM,
        validator=validators.and_(validators.ge(1), validators.le(MAX_MEMBERS_IN_JOINED_ROOM)),
    )


@frozen
class JoinDecision:
    already_member: bool
    evict: tuple[RoomId, ...] = ()


def decide_join(connection: Connection, room_id: RoomId, limits: Limits) -> JoinDecision:
    """Joining at the room limit leaves the oldest rooms to make space."""
    if connection.in_room(room_id):
        return JoinDecision(already_member=True)
    overflow = len(connection.rooms) + 1 - limits.max_rooms_per_connection
    oldest = connection.rooms_oldest_first()
    return JoinDecision(already_member=False, evict=tuple(oldest[: max(overflow, 0)]))


def check_room_capacity(members: int, limits: Limits) -> None:
    """A full room refuses joiners; its members may still rejoin (they are not counted)."""
    if limits.max_members_per_room is not None and members >= limits.max_members_per_room:
        raise RoomFull(limits.max_members_per_room)


def listed_members(
    members: Sequence[Membership], joiner: ConnectionId, limits: Limits
) -> list[UserId]:
    """Who joinedRoom names: the joiner and the earliest of the others, so that the frame
    always fits under PostToConnection's limit; `memberCount` carries the true size."""
    others = [m.user_id for m in members if m.connection_id != joiner]
    mine = [m.user_id for m in members if m.connection_id == joiner]
    return others[: limits.max_members_in_joined_room - len(mine)] + mine


def find_member(members: Sequence[Membership], connection_id: ConnectionId) -> Membership:
    """Only a member may send to or leave a room."""
    for membership in members:
        if membership.connection_id == connection_id:
            return membership
    raise NotInRoom()


def should_probe(connection: Connection, now_ms: int) -> bool:
    """Only settled connections are probed: until $connect returns (up to the 29 s
    integration timeout) API Gateway answers 410 for a connection it is still opening."""
    settled = connection.connected_at + HANDSHAKE_GRACE_MS <= now_ms
    return settled and not connection.is_expired(now_ms)


def expires_at(connected_at_ms: int, limits: Limits) -> int:
    """TTL (epoch seconds) for a connection: API Gateway never keeps one longer."""
    return connected_at_ms // 1000 + limits.connection_ttl_seconds
