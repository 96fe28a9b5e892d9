"""The store's atomic writes, join and leave: each is one TransactWriteItems call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from adapters import dynamodb_items as items
from domain.errors import ConcurrentUpdate, ConnectionNotFound
from domain.model import Connection, ConnectionId, RoomId

MAX_TRANSACTION_ITEMS = 100
LEAVE_ATTEMPTS = 3
CHECK_FAILED = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"


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
    if len(evicted) + 2 > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"cannot evict {len(evicted)} rooms in one transaction")
    rooms = {room: at for room, at in connection.rooms.items() if room not in evicted}
    updated = connection.with_rooms({**rooms, room_id: joined_at})
    membership = items.membership_to_item(updated.membership(room_id))
    try:
        client.transact_write_items(
            TransactItems=[
                _versioned_update(table_name, connection, updated),
                {"Put": {"TableName": table_name, "Item": membership}},
                *(_delete(table_name, items.membership_key(r, connection.id)) for r in evicted),
            ]
        )
    except ClientError as error:
        _raise_join_refusal(error, connection.id)
        raise
    return updated


def leave(client: Any, table_name: str, connection_id: ConnectionId, room_id: RoomId) -> bool:
    """Delete the membership and drop the room from the connection (bumping its version)."""
    membership_key = items.membership_key(room_id, connection_id)
    request = [
        _delete(table_name, membership_key, "attribute_exists(pk)"),
        _unlisting_update(table_name, connection_id, room_id),
    ]
    for _ in range(LEAVE_ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=request)
            return True
        except ClientError as error:
            codes = _reasons(error)
            if codes[:1] == [CHECK_FAILED]:
                return False
            if codes[1:] == [CHECK_FAILED]:
                return _delete_orphan(client, table_name, membership_key)
            if CONFLICT not in codes:
                raise
    raise ConcurrentUpdate(f"{connection_id} kept changing while leaving {room_id}")


def _versioned_update(table_name: str, old: Connection, new: Connection) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name,
            "Key": items.connection_key(old.id),
            "UpdateExpression": "SET rooms = :rooms, version = :next",
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {
                ":rooms": items.rooms_value(new.rooms),
                ":next": {"N": str(new.version)},
                ":expected": {"N": str(old.version)},
            },
            # The stored item comes back only when it exists: that tells stale from gone.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _unlisting_update(
    table_name: str, connection_id: ConnectionId, room_id: RoomId
) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name,
            "Key": items.connection_key(connection_id),
            "UpdateExpression": "REMOVE rooms.#room SET version = version + :one",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {"#room": room_id.value},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def _delete(table_name: str, key: items.Item, condition: str | None = None) -> dict[str, Any]:
    request = {"TableName": table_name, "Key": key}
    return {"Delete": {**request, "ConditionExpression": condition} if condition else request}


def _delete_orphan(client: Any, table_name: str, key: items.Item) -> bool:
    """The connection item is gone but its membership is not: delete the membership alone."""
    try:
        client.delete_item(
            TableName=table_name, Key=key, ConditionExpression="attribute_exists(pk)"
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _raise_join_refusal(error: ClientError, connection_id: ConnectionId) -> None:
    codes = _reasons(error)
    if codes and codes[0] == CHECK_FAILED:
        stale = "Item" in error.response["CancellationReasons"][0]
        raise (ConcurrentUpdate if stale else ConnectionNotFound)(connection_id.value) from error
    if CONFLICT in codes:
        raise ConcurrentUpdate(connection_id.value) from error


def _reasons(error: ClientError) -> list[str]:
    """The per-item cancellation codes ("None" for items that were fine), or [] if not a cancel."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
