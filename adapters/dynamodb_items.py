"""The single-table layout: keys, and the mapping between domain types and DynamoDB items.

Connection item:  pk=CONN#<connectionId>  sk=CONNECTION
    connectionId, userId, connectedAt, expiresAt, sourceIp?, userAgent?, rooms, version,
    unannounced and unannouncedDepartures (Connection's `unannounced` and
    `unannounced_departures`, as maps of room to true), lastRequest (the request token of
    the last join or leave, by which a retried transaction recognises its own commit)
Membership item:  pk=ROOM#<roomId>        sk=CONN#<connectionId>
    connectionId, roomId, userId, joinedAt, expiresAt

Members of a room are one consistent Query on the room's partition, with no extra reads.
"""

from __future__ import annotations

from typing import Any

from roomcast.domain.model import (
    NO_ROOMS,
    Connection,
    ConnectionId,
    Membership,
    RoomId,
    UserId,
    expiry_cutoff,
)

Item = dict[str, Any]

TTL_ATTRIBUTE = "expiresAt"
CONNECTION_SK = "CONNECTION"
DEPARTURES_ATTRIBUTE = "unannouncedDepartures"


def connection_key(connection_id: ConnectionId) -> Item:
    return {"pk": _s(f"CONN#{connection_id.value}"), "sk": _s(CONNECTION_SK)}


def membership_key(room_id: RoomId, connection_id: ConnectionId) -> Item:
    return {"pk": room_partition(room_id), "sk": _s(f"CONN#{connection_id.value}")}


def room_partition(room_id: RoomId) -> Item:
    return _s(f"ROOM#{room_id.value}")


def is_connection(item: Item) -> bool:
    return bool(item["sk"]["S"] == CONNECTION_SK)


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
    )


def _room_set(value: Item | None) -> frozenset[RoomId]:
    """A map attribute of room ids; absent on items written before it existed."""
    return frozenset(map(RoomId, (value or {}).get("M", {}))) or NO_ROOMS


def membership_to_item(membership: Membership) -> Item:
    return {
        **membership_key(membership.room_id, membership.connection_id),
        "connectionId": _s(membership.connection_id.value),
        "roomId": _s(membership.room_id.value),
        "userId": _s(membership.user_id.value),
        "joinedAt": _n(membership.joined_at),
        TTL_ATTRIBUTE: _n(membership.expires_at),
    }


def membership_from_item(item: Item) -> Membership:
    return Membership(
        connection_id=ConnectionId(item["connectionId"]["S"]),
        room_id=RoomId(item["roomId"]["S"]),
        user_id=UserId(item["userId"]["S"]),
        joined_at=int(item["joinedAt"]["N"]),
        expires_at=int(item[TTL_ATTRIBUTE]["N"]),
    )


def _s(value: str) -> Item:
    return {"S": value}


def _n(value: int) -> Item:
    return {"N": str(value)}
