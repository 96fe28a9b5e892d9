"""The single-table layout: keys, and the mapping between domain types and DynamoDB items.

Connection item:  pk=CONN#<connectionId>  sk=CONNECTION
    connectionId, userId, connectedAt, expiresAt, sourceIp?, userAgent?, rooms, version,
    unannounced and unannouncedDepartures (Connection's `unannounced` and
    `unannounced_departures`, as maps of room to true), lastRequest (the request token of
    the last join or leave, by which a retried transaction recognises its own commit),
    grant? (with room access `token`: the rooms the identity grants, room pattern to a
    string set of permissions; an item without it grants nothing)
Membership item:  pk=ROOM#<roomId>        sk=CONN#<connectionId>
    connectionId, roomId, userId, joinedAt, expiresAt, permissions? (what the grant gave
    in the room, a string set; none without a grant)
Room log head:    pk=ROOM#<roomId>        sk=LOG
    seq (the room's latest message), membershipVersion (moved by every join and leave, so
    that a member list read at the same version is known to be current), lastRequest,
    departing? (the room's unclaimed departures, a string set of JSON
    [connectionId, userId]: added by the removal or leave that writes the departure, taken
    off by the claim that announces it); no TTL: a room's seq never restarts
Logged message:   pk=LOG#<roomId>         sk=SEQ#<seq, 20 digits>
    roomId, seq, message, sender, timestamp, expiresAt (its retention)

Members of a room and its latest seq are one consistent Query on the room's partition.
Messages have a partition of their own, so a busy room's writes and reads of its history
do not share the partition its member reads go to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from roomcast.domain.access import parse_grant
from roomcast.domain.model import (
    NO_GRANT,
    NO_ROOMS,
    NOTHING,
    Connection,
    ConnectionId,
    Departure,
    Grant,
    Membership,
    Message,
    Permission,
    Permissions,
    RoomId,
    UserId,
    expiry_cutoff,
)

Item = dict[str, Any]

TTL_ATTRIBUTE = "expiresAt"
CONNECTION_SK = "CONNECTION"
DEPARTURES_ATTRIBUTE = "unannouncedDepartures"
MEMBER_SK_PREFIX = "CONN#"
ROOM_PK_PREFIX = "ROOM#"
LOG_HEAD_SK = "LOG"
VERSION_ATTRIBUTE = "membershipVersion"
DEPARTING_ATTRIBUTE = "departing"
SEQ_DIGITS = 20


def connection_key(connection_id: ConnectionId) -> Item:
    return {"pk": _s(f"CONN#{connection_id.value}"), "sk": _s(CONNECTION_SK)}


def membership_key(room_id: RoomId, connection_id: ConnectionId) -> Item:
    return {"pk": room_partition(room_id), "sk": _s(f"{MEMBER_SK_PREFIX}{connection_id.value}")}


def room_partition(room_id: RoomId) -> Item:
    return _s(f"{ROOM_PK_PREFIX}{room_id.value}")


def room_of(item: Item) -> RoomId:
    """The room whose partition holds `item`."""
    return RoomId(item["pk"]["S"].removeprefix(ROOM_PK_PREFIX))


def log_head_key(room_id: RoomId) -> Item:
    return {"pk": room_partition(room_id), "sk": _s(LOG_HEAD_SK)}


def is_log_head(item: Item) -> bool:
    return bool(item["sk"]["S"] == LOG_HEAD_SK)


def head_seq(item: Item | None) -> int:
    """The seq a log head item holds; 0 for a room that has none yet."""
    return int(item["seq"]["N"]) if item and "seq" in item else 0


def head_version(item: Item | None) -> int:
    """The membership version a log head item holds; 0 for a room never joined since."""
    return int(item[VERSION_ATTRIBUTE]["N"]) if item and VERSION_ATTRIBUTE in item else 0


def head_departures(item: Item | None) -> tuple[Departure, ...]:
    """The unclaimed departures a log head item holds, sorted."""
    held = (item or {}).get(DEPARTING_ATTRIBUTE, {}).get("SS", [])
    return tuple(sorted(Departure(ConnectionId(c), UserId(u)) for c, u in map(json.loads, held)))


def departures_value(departures: Sequence[Departure]) -> Item:
    """The string set of `departures`, one JSON [connectionId, userId] each (never empty)."""
    return {"SS": sorted({json.dumps([d.connection_id.value, d.user_id.value])
                          for d in departures})}


def membership_moved(room_id: RoomId, departing: Sequence[Departure] = ()) -> Item:
    """The update, for UpdateItem or a transaction, that moves a room's membership version
    and adds the departures, if any, that the same write makes."""
    update, values = f"ADD {VERSION_ATTRIBUTE} :one", {":one": _n(1)}
    if departing:
        update += f", {DEPARTING_ATTRIBUTE} :departing"
        values[":departing"] = departures_value(departing)
    return {"Key": log_head_key(room_id), "UpdateExpression": update,
            "ExpressionAttributeValues": values}


def log_partition(room_id: RoomId) -> Item:
    return _s(f"LOG#{room_id.value}")


def seq_key(seq: int) -> Item:
    return _s(f"SEQ#{seq:0{SEQ_DIGITS}d}")


def message_to_item(message: Message, expires_at: int) -> Item:
    return {
        "pk": log_partition(message.room_id),
        "sk": seq_key(message.seq),
        "roomId": _s(message.room_id.value),
        "seq": _n(message.seq),
        "message": _s(message.text),
        "sender": _s(message.sender.value),
        "timestamp": _n(message.timestamp),
        TTL_ATTRIBUTE: _n(expires_at),
    }


def message_from_item(item: Item) -> Message:
    return Message(
        room_id=RoomId(item["roomId"]["S"]),
        text=item["message"]["S"],
        sender=UserId(item["sender"]["S"]),
        timestamp=int(item["timestamp"]["N"]),
        seq=int(item["seq"]["N"]),
    )


def is_connection(item: Item) -> bool:
    return bool(item["sk"]["S"] == CONNECTION_SK)


def is_membership(item: Item) -> bool:
    return bool(item["sk"]["S"].startswith(MEMBER_SK_PREFIX))


def live_after(now_ms: int) -> Item:
    """The value v for `expiresAt > v`, which keeps the items that have not expired."""
    return _n(expiry_cutoff(now_ms))


def rooms_value(rooms: dict[RoomId, int]) -> Item:
    return {"M": {room.value: _n(joined_at) for room, joined_at in rooms.items()}}


def unannounced_value(rooms: frozenset[RoomId]) -> Item:
    return {"M": {room.value: {"BOOL": True} for room in sorted(rooms)}}


def connection_to_item(connection: Connection) -> Item:
    item = {
        **connection_key(connection.id),
        "connectionId": _s(connection.id.value),
        "userId": _s(connection.user_id.value),
        "connectedAt": _n(connection.connected_at),
        TTL_ATTRIBUTE: _n(connection.expires_at),
        "rooms": rooms_value(connection.rooms),
        "version": _n(connection.version),
        "unannounced": unannounced_value(connection.unannounced),
        DEPARTURES_ATTRIBUTE: unannounced_value(connection.unannounced_departures),
    }
    if connection.source_ip is not None:
        item["sourceIp"] = _s(connection.source_ip)
    if connection.user_agent is not None:
        item["userAgent"] = _s(connection.user_agent)
    if connection.grant:
        item["grant"] = _grant_value(connection.grant)
    return item


def connection_from_item(item: Item) -> Connection:
    return Connection(
        id=ConnectionId(item["connectionId"]["S"]),
        user_id=UserId(item["userId"]["S"]),
        connected_at=int(item["connectedAt"]["N"]),
        expires_at=int(item[TTL_ATTRIBUTE]["N"]),
        source_ip=item["sourceIp"]["S"] if "sourceIp" in item else None,
        user_agent=item["userAgent"]["S"] if "userAgent" in item else None,
        rooms={RoomId(room): int(t["N"]) for room, t in item["rooms"]["M"].items()},
        version=int(item["version"]["N"]),
        unannounced=_room_set(item.get("unannounced")),
        unannounced_departures=_room_set(item.get(DEPARTURES_ATTRIBUTE)),
        grant=_grant(item.get("grant")),
    )


def _grant_value(grant: Grant) -> Item:
    """Every entry of a canonical grant gives something, so no string set is empty."""
    return {"M": {pattern: {"SS": given} for pattern, given in grant.as_claim().items()}}


def _grant(value: Item | None) -> Grant:
    """Absent on items written in `open` mode or before grants existed: no grant."""
    if value is None:
        return NO_GRANT
    return parse_grant({pattern: given["SS"] for pattern, given in value["M"].items()})


def _room_set(value: Item | None) -> frozenset[RoomId]:
    """A map attribute of room ids; absent on items written before it existed."""
    return frozenset(map(RoomId, (value or {}).get("M", {}))) or NO_ROOMS


def membership_to_item(membership: Membership) -> Item:
    item = {
        **membership_key(membership.room_id, membership.connection_id),
        "connectionId": _s(membership.connection_id.value),
        "roomId": _s(membership.room_id.value),
        "userId": _s(membership.user_id.value),
        "joinedAt": _n(membership.joined_at),
        TTL_ATTRIBUTE: _n(membership.expires_at),
    }
    if membership.permissions:
        item["permissions"] = {"SS": sorted(p.value for p in membership.permissions)}
    return item


def membership_from_item(item: Item) -> Membership:
    return Membership(
        connection_id=ConnectionId(item["connectionId"]["S"]),
        room_id=RoomId(item["roomId"]["S"]),
        user_id=UserId(item["userId"]["S"]),
        joined_at=int(item["joinedAt"]["N"]),
        expires_at=int(item[TTL_ATTRIBUTE]["N"]),
        permissions=_permissions(item.get("permissions")),
    )


def _permissions(value: Item | None) -> Permissions:
    known = {p.value: p for p in Permission}
    given = (value or {}).get("SS", [])
    return frozenset(known[p] for p in given if p in known) or NOTHING


def _s(value: str) -> Item:
    return {"S": value}


def _n(value: int) -> Item:
    return {"N": str(value)}
