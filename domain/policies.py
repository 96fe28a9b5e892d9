"""Pure policies: each takes what is known and returns a decision or raises a DomainError."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from domain.commands import DEFAULT_MAX_MESSAGE_BYTES
from domain.errors import NotInRoom
from domain.model import Connection, ConnectionId, Membership, RoomId

TWO_HOURS = 2 * 60 * 60
HANDSHAKE_GRACE_MS = 30_000


@frozen
class Limits:
    """Configurable limits; the defaults are the seed's and API Gateway's."""

    max_rooms_per_connection: int = 1
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    connection_ttl_seconds: int = TWO_HOURS


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
