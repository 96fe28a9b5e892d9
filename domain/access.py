"""Who may enter which room: reading a grant, and the policy that decides with it.

A grant (model.Grant) is what a verified token's `rooms` claim, or an authorizer's context,
says: an object mapping a room id, or a prefix ending in `*` (`"team-*"`; `"*"` alone is
every room), to the permissions it gives there, among `join` (join, receive, replay
history) and `send`; several matching entries add up. It is read once, on `$connect`, and
kept with the connection. With room access `token` a connection reaches only the rooms
its grant gives; with `open`, every room, as if no grant existed.
"""

from __future__ import annotations

import enum
import json

from roomcast.domain.errors import InvalidGrant, NotAllowed
from roomcast.domain.model import (
    NOTHING,
    ROOM_ID_PATTERN,
    WILDCARD,
    Grant,
    Membership,
    Permission,
    Permissions,
    RoomId,
)

# A grant is matched on every join and stored with its connection; nothing needs more.
MAX_GRANT_ENTRIES = 100
SENDING: Permissions = frozenset({Permission.JOIN, Permission.SEND})


class RoomAccess(enum.Enum):
    """`open`: every connection may join every room and send in it. `token`: only what
    the connection's grant gives."""

    OPEN = "open"
    TOKEN = "token"


def may_join(grant: Grant, room_id: RoomId) -> bool:
    """Joining, receiving and replaying history take `join`."""
    return Permission.JOIN in grant.permissions_in(room_id)


def may_send(grant: Grant, room_id: RoomId) -> bool:
    """Sending takes `send` and `join`: only a member sends, and joining takes `join`."""
    return sends(grant.permissions_in(room_id))


def sends(permissions: Permissions) -> bool:
    return permissions >= SENDING


def check_join(access: RoomAccess, grant: Grant, room_id: RoomId) -> None:
    if access is RoomAccess.TOKEN and not may_join(grant, room_id):
        raise NotAllowed()


def check_send(access: RoomAccess, sender: Membership) -> None:
    """The sender's membership kept what its grant gave in the room: no other read."""
    if access is RoomAccess.TOKEN and not sends(sender.permissions):
        raise NotAllowed()


def parse_grant(claim: object) -> Grant:
    """The grant a `rooms` claim gives; InvalidGrant for anything but an object of valid
    room patterns to lists of known permissions (at most MAX_GRANT_ENTRIES of them). An
    empty list is valid and gives nothing."""
    if not isinstance(claim, dict):
        raise InvalidGrant("rooms must be an object of room patterns to permission lists")
    if len(claim) > MAX_GRANT_ENTRIES:
        raise InvalidGrant(f"rooms may have at most {MAX_GRANT_ENTRIES} entries")
    entries: dict[str, Permissions] = {}
    for pattern, permissions in claim.items():
        _check_pattern(pattern)
        given = _permissions(pattern, permissions)
        if given:
            entries[pattern] = given
    return Grant(tuple(sorted(entries.items(), key=lambda entry: entry[0])))


def parse_grant_json(text: object) -> Grant:
    """A grant carried as a JSON string (an authorizer's context values are scalars)."""
    if not isinstance(text, str):
        raise InvalidGrant("rooms must be a JSON string here")
    try:
        claim = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidGrant("rooms is not valid JSON") from None
    return parse_grant(claim)


def _check_pattern(pattern: object) -> None:
    """A room id, or a prefix of one followed by `*`; `*` alone is every room."""
    if not isinstance(pattern, str):
        raise InvalidGrant("a room pattern must be a string")
    if pattern == WILDCARD:
        return
    if ROOM_ID_PATTERN.fullmatch(pattern.removesuffix(WILDCARD)) is None:
        raise InvalidGrant(
            f"{_shown(pattern)} is neither a room id nor a room id prefix ending in *"
        )


def _permissions(pattern: str, permissions: object) -> Permissions:
    known = {p.value: p for p in Permission}
    if not isinstance(permissions, list) or not all(
        isinstance(p, str) and p in known for p in permissions
    ):
        allowed = " or ".join(f'"{name}"' for name in known)
        raise InvalidGrant(f"{_shown(pattern)} must map to a list of permissions, each {allowed}")
    return frozenset(known[p] for p in permissions) or NOTHING


def _shown(pattern: str) -> str:
    """A pattern in a log line: quoted, cut short, every odd character escaped."""
    return json.dumps(pattern[:64])
