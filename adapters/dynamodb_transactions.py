"""The store's atomic writes, join, leave and remove: each is one TransactWriteItems call
(a removal from more rooms than one holds, a few).

A write can commit and still be answered with a 5xx or a lost connection, and botocore then
sends it again. Each call carries a fresh request token twice over: as `ClientRequestToken`
(DynamoDB answers a repeat within 10 minutes with the first call's success) and in the
connection item's `lastRequest` (where a repeat that was evaluated again, as moto and
DynamoDB Local do, finds that its failed condition is its own commit).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from roomcast.adapters import dynamodb_items as items
from roomcast.domain.errors import ConcurrentUpdate, ConnectionNotFound
from roomcast.domain.model import Connection, ConnectionId, Departure, RoomId, UserId

MAX_TRANSACTION_ITEMS = 100
LEAVE_ATTEMPTS = 3
REMOVE_ATTEMPTS = 5
ROOMS_PER_REMOVAL = (MAX_TRANSACTION_ITEMS - 1) // 2  # the connection item, two items a room
CHECK_FAILED = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"
REQUEST_ATTRIBUTE = "lastRequest"
CONNECTION_IN_JOIN, CONNECTION_IN_LEAVE = 0, 1  # the connection item's place in each request


def join(
    client: Any,
    table_name: str,
    connection: Connection,
    room_id: RoomId,
    joined_at: int,
    evict: Sequence[RoomId],
) -> Connection:
    """Update the connection if its version is unchanged, put the membership, drop evictions."""
    evicted = [room for room in dict.fromkeys(evict) if room != room_id]
    if 2 * len(evicted) + 3 > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"cannot evict {len(evicted)} rooms in one transaction")
    updated = connection.joining(room_id, joined_at, evicted)
    membership = items.membership_to_item(updated.membership(room_id))
    token = new_request_token()
    try:
        client.transact_write_items(
            TransactItems=[
                _versioned_update(table_name, connection, updated, token),
                {"Put": {"TableName": table_name, "Item": membership}},
                *(_delete(table_name, items.membership_key(r, connection.id)) for r in evicted),
                *(_moved(table_name, r) for r in [room_id, *evicted]),
            ],
            ClientRequestToken=token,
        )
    except ClientError as error:
        if _committed_by(token, error, CONNECTION_IN_JOIN):
            return updated
        _raise_join_refusal(error, connection.id)
        raise
    return updated


def leave(
    client: Any,
    table_name: str,
    connection_id: ConnectionId,
    room_id: RoomId,
    user_id: UserId | None = None,
) -> bool:
    """Delete the membership and drop the room from the connection (bumping its version);
    with `user_id`, add its departure to the room's head in the same transaction."""
    membership_key = items.membership_key(room_id, connection_id)
    departing = [] if user_id is None else [Departure(connection_id, user_id)]
    for _ in range(LEAVE_ATTEMPTS):
        token = new_request_token()
        request = [
            _delete(table_name, membership_key, "attribute_exists(pk)"),
            _unlisting_update(table_name, connection_id, room_id, token),
            _moved(table_name, room_id, departing),
        ]
        try:
            client.transact_write_items(TransactItems=request, ClientRequestToken=token)
            return True
        except ClientError as error:
            if _committed_by(token, error, CONNECTION_IN_LEAVE):
                return True
            codes = cancellation_codes(error)
            if codes[:1] == [CHECK_FAILED]:
                return False
            if codes[1:2] == [CHECK_FAILED]:
                return _delete_orphan(client, table_name, room_id, membership_key, departing)
            if CONFLICT not in codes:
                raise
    raise ConcurrentUpdate(f"{connection_id} kept changing while leaving {room_id}")


def remove(client: Any, table_name: str, connection_id: ConnectionId) -> Connection | None:
    """Delete the connection and its memberships, and add its departure to each of its
    rooms' heads in the same transaction; return what was deleted.

    A connection in no room is one conditional DeleteItem. One in rooms fails its
    condition, which hands back the stored item, and goes in one transaction at its
    version; past ROOMS_PER_REMOVAL rooms, a transaction first leaves the oldest rooms
    (the connection item updated at its version), so that whatever a failure leaves is a
    connection still in the rooms not reached, never a room without the departure.
    None when the connection was gone or went meanwhile (a retried commit of this very
    call included: its departures then wait for the rooms' next readers)."""
    for _ in range(REMOVE_ATTEMPTS):
        try:
            deleted = client.delete_item(
                TableName=table_name,
                Key=items.connection_key(connection_id),
                ConditionExpression="attribute_exists(pk) AND size(rooms) = :none",
                ExpressionAttributeValues={":none": {"N": "0"}},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ).get("Attributes")
            return items.connection_from_item(deleted) if deleted else None
        except client.exceptions.ConditionalCheckFailedException as refused:
            if "Item" not in refused.response:
                return None
            connection = items.connection_from_item(refused.response["Item"])
        try:
            return connection if _remove_in_rooms(client, table_name, connection) else None
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"{connection_id} kept changing while being removed")


def _remove_in_rooms(client: Any, table_name: str, connection: Connection) -> bool:
    """Whether the connection was there to remove; ConcurrentUpdate when it changed."""
    rooms = connection.rooms_oldest_first()
    chunks = [rooms[i : i + ROOMS_PER_REMOVAL] for i in range(0, len(rooms), ROOMS_PER_REMOVAL)]
    departing = [Departure(connection.id, connection.user_id)]
    version = connection.version
    for n, chunk in enumerate(chunks, start=1):
        leaving = [
            item
            for room in chunk
            for item in (
                _delete(table_name, items.membership_key(room, connection.id)),
                _moved(table_name, room, departing),
            )
        ]
        closing = _versioned(table_name, connection.id, chunk, version, last=n == len(chunks))
        if not _transact(client, [closing, *leaving], connection.id):
            return False
        version += 1
    return True


def _versioned(
    table_name: str, connection_id: ConnectionId, rooms: Sequence[RoomId], version: int,
    last: bool,
) -> dict[str, Any]:
    """The connection item's part of a removal: deleted by the last transaction, the
    rooms dropped from it by any before; either only at `version`."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "Key": items.connection_key(connection_id),
        "ConditionExpression": "version = :expected",
        "ExpressionAttributeValues": {":expected": {"N": str(version)}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if last:
        return {"Delete": request}
    names = {f"#r{i}": room.value for i, room in enumerate(rooms)}
    request["UpdateExpression"] = (
        f"REMOVE {', '.join(f'rooms.{name}' for name in names)} SET version = version + :one"
    )
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"][":one"] = {"N": "1"}
    return {"Update": request}


def _transact(client: Any, request: list[dict[str, Any]], connection_id: ConnectionId) -> bool:
    """Whether the transaction committed (False: the connection item was gone)."""
    try:
        client.transact_write_items(TransactItems=request, ClientRequestToken=new_request_token())
    except ClientError as error:
        codes = cancellation_codes(error)
        if codes[:1] == [CHECK_FAILED] and "Item" not in error.response["CancellationReasons"][0]:
            return False
        if codes[:1] == [CHECK_FAILED] or CONFLICT in codes:
            raise ConcurrentUpdate(connection_id.value) from error
        raise
    return True


def new_request_token() -> str:
    return str(uuid.uuid4())  # ClientRequestToken allows 1-36 characters


def _versioned_update(
    table_name: str, old: Connection, new: Connection, token: str
) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name,
            "Key": items.connection_key(old.id),
            "UpdateExpression": (
                f"SET rooms = :rooms, unannounced = :unannounced, "
                f"{items.DEPARTURES_ATTRIBUTE} = :departures, version = :next, "
                f"{REQUEST_ATTRIBUTE} = :request"
            ),
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {
                ":rooms": items.rooms_value(new.rooms),
                ":unannounced": items.unannounced_value(new.unannounced),
                ":departures": items.unannounced_value(new.unannounced_departures),
                ":next": {"N": str(new.version)},
                ":expected": {"N": str(old.version)},
                ":request": {"S": token},
            },
            # The stored item comes back only when it exists: that tells stale from gone.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _unlisting_update(
    table_name: str, connection_id: ConnectionId, room_id: RoomId, token: str
) -> dict[str, Any]:
    """Fails its condition only when the connection is gone or this very request committed
    (then the membership's condition fails too, and the stored item tells which)."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": items.connection_key(connection_id),
            "UpdateExpression": (
                f"REMOVE rooms.#room SET version = version + :one, {REQUEST_ATTRIBUTE} = :request"
            ),
            "ConditionExpression": (
                f"attribute_exists(pk) AND "
                f"(attribute_not_exists({REQUEST_ATTRIBUTE}) OR {REQUEST_ATTRIBUTE} <> :request)"
            ),
            "ExpressionAttributeNames": {"#room": room_id.value},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":request": {"S": token}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _delete(table_name: str, key: items.Item, condition: str | None = None) -> dict[str, Any]:
    request = {"TableName": table_name, "Key": key}
    return {"Delete": {**request, "ConditionExpression": condition} if condition else request}


def _delete_orphan(
    client: Any,
    table_name: str,
    room_id: RoomId,
    key: items.Item,
    departing: Sequence[Departure],
) -> bool:
    """The connection item is gone but its membership is not: delete the membership alone."""
    try:
        client.delete_item(
            TableName=table_name, Key=key, ConditionExpression="attribute_exists(pk)"
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    client.update_item(TableName=table_name, **items.membership_moved(room_id, departing))
    return True


def _moved(
    table_name: str, room_id: RoomId, departing: Sequence[Departure] = ()
) -> dict[str, Any]:
    return {"Update": {"TableName": table_name, **items.membership_moved(room_id, departing)}}


def _raise_join_refusal(error: ClientError, connection_id: ConnectionId) -> None:
    codes = cancellation_codes(error)
    if codes and codes[0] == CHECK_FAILED:
        stale = "Item" in error.response["CancellationReasons"][0]
        raise (ConcurrentUpdate if stale else ConnectionNotFound)(connection_id.value) from error
    if CONFLICT in codes:
        raise ConcurrentUpdate(connection_id.value) from error


def _committed_by(token: str, error: ClientError, position: int) -> bool:
    """Whether the connection item's failed condition is this request's own earlier commit."""
    if cancellation_codes(error)[position : position + 1] != [CHECK_FAILED]:
        return False
    stored = error.response["CancellationReasons"][position].get("Item", {})
    return bool(stored.get(REQUEST_ATTRIBUTE, {}).get("S") == token)


def cancellation_codes(error: ClientError) -> list[str]:
    """The per-item cancellation codes ("None" for items that were fine), or [] if not a cancel."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
