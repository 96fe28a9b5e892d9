"""RoomLog on the connections table (layout in adapters/dynamodb_items.py).

A message's seq is allocated by a compare-and-set on the room's log head, in the same
TransactWriteItems that puts the message: one request per send when the caller's `after`
(read with the room's members) is still the latest. A head that moved meanwhile is handed
back by the refusal itself (ALL_OLD), so a race costs one more write, not a read.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from attrs import evolve
from botocore.exceptions import ClientError

from roomcast.adapters import dynamodb_items as items
from roomcast.adapters.dynamodb_paging import every_item
from roomcast.adapters.dynamodb_transactions import (
    CHECK_FAILED,
    CONFLICT,
    REQUEST_ATTRIBUTE,
    cancellation_codes,
    new_request_token,
)
from roomcast.domain.errors import ConcurrentUpdate, MembershipChanged
from roomcast.domain.history import Replay, Retention, replay_of
from roomcast.domain.model import Message, RoomId
from roomcast.ports import Clock

APPEND_ATTEMPTS = 60
# After a lost race, wait a random moment (full jitter, the ceiling doubling from
# RACE_PAUSE_SECONDS up to MAX_RACE_PAUSE_SECONDS) before the next try: senders that lost
# to the same winner would otherwise all try the same next seq at once again.
RACE_PAUSE_SECONDS = 0.005
MAX_RACE_PAUSE_SECONDS = 0.25


class DynamoDBRoomLog:
    def __init__(
        self,
        client: Any,
        table_name: str,
        clock: Clock,
        retention: Retention | None = None,
        page_size: int | None = None,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._clock = clock
        self._retention = retention or Retention()
        self._page_size = {"Limit": page_size} if page_size else {}
        # Every process on the table counts the same seqs; a table of another name does not.
        self.epoch = hashlib.sha256(table_name.encode()).hexdigest()[:12]

    def append(
        self, message: Message, after: int, members_version: int | None = None
    ) -> Message:
        expected = after
        for attempt in range(APPEND_ATTEMPTS):
            if attempt:
                ceiling = min(MAX_RACE_PAUSE_SECONDS, RACE_PAUSE_SECONDS * 2 ** (attempt - 1))
                time.sleep(random.uniform(0, ceiling))
            logged = evolve(message, seq=expected + 1)
            token = new_request_token()
            try:
                self._write(logged, expected, members_version, token)
                return logged
            except ClientError as error:
                head = self._head_after_refusal(error, message.room_id)
            if head.get(REQUEST_ATTRIBUTE, {}).get("S") == token:
                return logged  # our own commit, answered with an error and retried
            if members_version is not None and items.head_version(head) != members_version:
                raise MembershipChanged(message.room_id.value)
            expected = items.head_seq(head)
        raise ConcurrentUpdate(f"the log of {message.room_id} kept moving")

    def replay(self, room_id: RoomId, since: int, until: int) -> Replay:
        if not self._retention.keeps_messages or until <= since:
            return replay_of((), since, until)
        low = max(since + 1, self._retention.oldest_kept(until))
        found = every_item(
            self._client.query,
            TableName=self._table_name,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            FilterExpression=f"{items.TTL_ATTRIBUTE} > :now",
            ExpressionAttributeValues={
                ":pk": items.log_partition(room_id),
                ":low": items.seq_key(low),
                ":high": items.seq_key(until),
                ":now": items.live_after(self._clock.now_ms()),
            },
            ConsistentRead=True,
            **self._page_size,
        )
        return replay_of(map(items.message_from_item, found), since, until)

    def latest(self, room_id: RoomId) -> int:
        return items.head_seq(self._read_head(room_id))

    def _write(
        self, logged: Message, expected: int, members_version: int | None, token: str
    ) -> None:
        head = self._head_update(logged, expected, members_version, token)
        if not self._retention.keeps_messages:
            self._client.update_item(**head)
            return
        expires_at = self._retention.expires_at(logged.timestamp)
        self._client.transact_write_items(
            TransactItems=[
                {"Update": head},
                {"Put": {"TableName": self._table_name,
                         "Item": items.message_to_item(logged, expires_at)}},
            ],
            ClientRequestToken=token,
        )

    def _head_update(
        self, logged: Message, expected: int, members_version: int | None, token: str
    ) -> dict[str, Any]:
        values = {":next": {"N": str(logged.seq)}, ":token": {"S": token}}
        conditions = ["seq = :expected" if expected else "attribute_not_exists(seq)"]
        if expected:
            values[":expected"] = {"N": str(expected)}
        if members_version:
            values[":members"] = {"N": str(members_version)}
            conditions.append(f"{items.VERSION_ATTRIBUTE} = :members")
        elif members_version == 0:
            conditions.append(f"attribute_not_exists({items.VERSION_ATTRIBUTE})")
        return {
            "TableName": self._table_name,
            "Key": items.log_head_key(logged.room_id),
            "UpdateExpression": f"SET seq = :next, {REQUEST_ATTRIBUTE} = :token",
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _head_after_refusal(self, error: ClientError, room_id: RoomId) -> dict[str, Any]:
        """The head as the refused write found it: from the refusal when it carries it, else
        read again (a conflicting transaction, or a head that did not exist yet, returns no
        item). Any error but a refusal is raised."""
        code = error.response.get("Error", {}).get("Code")
        if code == "ConditionalCheckFailedException":
            item = error.response.get("Item")
        elif cancellation_codes(error)[:1] == [CHECK_FAILED]:
            item = error.response["CancellationReasons"][0].get("Item")
        elif CONFLICT in cancellation_codes(error):
            item = None
        else:
            raise error
        return item if item is not None else self._read_head(room_id)

    def _read_head(self, room_id: RoomId) -> dict[str, Any]:
        found: dict[str, Any] = self._client.get_item(
            TableName=self._table_name, Key=items.log_head_key(room_id), ConsistentRead=True
        ).get("Item", {})
        return found
