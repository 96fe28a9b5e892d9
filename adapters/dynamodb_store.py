"""ConnectionStore on one DynamoDB table (layout in adapters/dynamodb_items.py)."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any

from attrs import evolve
from botocore.config import Config
from botocore.session import Session

from roomcast.adapters import dynamodb_items as items
from roomcast.adapters import dynamodb_transactions as transactions
from roomcast.adapters.dynamodb_paging import BatchDeleter, every_item
from roomcast.adapters.live_members import LiveMembers
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
from roomcast.ports import Clock

KNOWN_ROOMS = 256


def make_dynamodb_client(
    region: str | None = None, session: Session | None = None, max_pool_connections: int = 10
) -> Any:
    """A low-level client, as boto3.client("dynamodb") builds it (boto3 adds nothing to a
    DynamoDB client but its user agent) without importing boto3 and s3transfer, which a
    cold start would otherwise pay for (`make bench` times one against the floor of
    `import boto3`). botocore's session resolves the region, the credential chain and
    AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL itself.

    One Lambda invocation uses one connection; a process running handlers in N threads
    (roomcast serve) wants a pool of N, or botocore discards the extra connections.
    """
    config = Config(
        # total_max_attempts counts the first request; Config's max_attempts would not.
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=max_pool_connections,
    )
    return (session or Session()).create_client("dynamodb", region_name=region, config=config)


class DynamoDBConnectionStore:
    """Reads are strongly consistent, skip expired items and follow every page.

    A room's member list, once read, is kept (for the last KNOWN_ROOMS rooms) with the
    membership version it was read at; the next `room()` reads only the room's log head, one
    item, and reads the members again only when the version moved. Every join, leave and
    removal moves it in its own transaction. The head carries the room's unclaimed
    departures too, so a send learns of them from the read it makes anyway.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        clock: Clock,
        page_size: int | None = None,
        deleter: BatchDeleter | None = None,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._clock = clock
        self._page_size = {"Limit": page_size} if page_size else {}
        self._deleter = deleter or BatchDeleter(client, table_name)
        self._known: OrderedDict[RoomId, tuple[Room, LiveMembers]] = OrderedDict()
        self._known_lock = threading.Lock()

    def add(self, connection: Connection) -> None:
        fresh = connection.as_new()
        replaced = self._client.put_item(
            TableName=self._table_name,
            Item=items.connection_to_item(fresh),
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        if replaced:
            self._delete_memberships([items.connection_from_item(replaced)])

    def get(self, connection_id: ConnectionId) -> Connection | None:
        item = self._client.get_item(
            TableName=self._table_name,
            Key=items.connection_key(connection_id),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        connection = items.connection_from_item(item)
        return None if connection.is_expired(self._clock.now_ms()) else connection

    def remove(self, connection_id: ConnectionId) -> Connection | None:
        removed = transactions.remove(self._client, self._table_name, connection_id)
        for room_id in removed.rooms if removed is not None else ():
            self._forget(room_id)
        return removed

    def join(
        self,
        connection: Connection,
        room_id: RoomId,
        joined_at: int,
        evict: Sequence[RoomId] = (),
    ) -> Connection:
        for moved in [room_id, *evict]:
            self._forget(moved)  # whatever happens next, what was known of them is old
        return transactions.join(
            self._client, self._table_name, connection, room_id, joined_at, evict
        )

    def leave(
        self, connection_id: ConnectionId, room_id: RoomId, user_id: UserId | None = None
    ) -> bool:
        self._forget(room_id)  # it moved, or a member list naming it was stale
        return transactions.leave(
            self._client, self._table_name, connection_id, room_id, user_id
        )

    def claim_departures(
        self, room_id: RoomId, departures: Sequence[Departure]
    ) -> list[Departure]:
        """One UpdateItem: the set before the update says which of them this call took."""
        if not departures:
            return []
        try:
            before = self._client.update_item(
                TableName=self._table_name,
                Key=items.log_head_key(room_id),
                UpdateExpression=f"DELETE {items.DEPARTING_ATTRIBUTE} :claimed",
                ConditionExpression=f"attribute_exists({items.DEPARTING_ATTRIBUTE})",
                ExpressionAttributeValues={":claimed": items.departures_value(departures)},
                ReturnValues="UPDATED_OLD",
            ).get("Attributes")
        except self._client.exceptions.ConditionalCheckFailedException:
            return []  # claimed already, all of them
        held = items.head_departures(before)
        return [d for d in departures if d in held]

    def departed_rooms(self) -> Iterator[RoomId]:
        found = every_item(
            self._client.scan,
            TableName=self._table_name,
            ProjectionExpression="pk",
            FilterExpression=f"attribute_exists({items.DEPARTING_ATTRIBUTE})",
            **self._page_size,
        )
        return map(items.room_of, found)

    def mark_announced(
        self, connection_id: ConnectionId, room_id: RoomId, departures: Sequence[RoomId] = ()
    ) -> None:
        departed = {f"#d{i}": room.value for i, room in enumerate(departures)}
        paths = ["unannounced.#room", *(f"{items.DEPARTURES_ATTRIBUTE}.{n}" for n in departed)]
        names = {"#room": room_id.value, **departed}
        # Failing the condition means already announced (a retried request) or gone.
        with suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table_name,
                Key=items.connection_key(connection_id),
                UpdateExpression=f"REMOVE {', '.join(paths)} SET version = version + :one",
                ConditionExpression=" OR ".join(f"attribute_exists({p})" for p in paths),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    def members(self, room_id: RoomId) -> list[Membership]:
        return list(self.room(room_id).members)

    def room(self, room_id: RoomId) -> Room:
        known = self._recall(room_id)
        cutoff = expiry_cutoff(self._clock.now_ms())
        if known is not None:
            room, live = known
            head = self._client.get_item(
                TableName=self._table_name, Key=items.log_head_key(room_id), ConsistentRead=True
            ).get("Item")
            if items.head_version(head) == room.version:
                still = live.at(cutoff)
                if still is not live:
                    self._remember(room, still)
                return evolve(
                    room, members=still.members, seq=items.head_seq(head),
                    departures=items.head_departures(head),
                )
        room = self._read_room(room_id)
        self._remember(room, LiveMembers.of(room.members, cutoff))
        return room

    def _read_room(self, room_id: RoomId) -> Room:
        """The room's partition holds its memberships and its log head: one Query reads both."""
        found = every_item(
            self._client.query,
            TableName=self._table_name,
            KeyConditionExpression="pk = :pk",
            FilterExpression=f"{items.TTL_ATTRIBUTE} > :now OR sk = :head",
            ExpressionAttributeValues={
                ":pk": items.room_partition(room_id),
                ":now": items.live_after(self._clock.now_ms()),
                ":head": {"S": items.LOG_HEAD_SK},
            },
            ConsistentRead=True,
            **self._page_size,
        )
        members, head = [], None
        for item in found:
            if items.is_log_head(item):
                head = item
            else:
                members.append(items.membership_from_item(item))
        members.sort(key=lambda m: (m.joined_at, m.connection_id.value))
        return Room(
            room_id, tuple(members), items.head_seq(head), items.head_version(head),
            items.head_departures(head),
        )

    def _recall(self, room_id: RoomId) -> tuple[Room, LiveMembers] | None:
        with self._known_lock:
            known = self._known.get(room_id)
            if known is not None:
                self._known.move_to_end(room_id)
            return known

    def _remember(self, room: Room, live: LiveMembers) -> None:
        with self._known_lock:
            self._known[room.id] = (room, live)
            self._known.move_to_end(room.id)
            while len(self._known) > KNOWN_ROOMS:
                self._known.popitem(last=False)

    def _forget(self, room_id: RoomId) -> None:
        with self._known_lock:
            self._known.pop(room_id, None)

    def connections(self) -> Iterator[Connection]:
        found = every_item(
            self._client.scan,
            TableName=self._table_name,
            FilterExpression="sk = :sk",
            ExpressionAttributeValues={":sk": {"S": items.CONNECTION_SK}},
            **self._page_size,
        )
        return map(items.connection_from_item, found)

    def stats(self) -> Stats:
        total, per_room = 0, Counter[str]()
        for item in every_item(
            self._client.scan,
            TableName=self._table_name,
            ProjectionExpression="sk, roomId",
            FilterExpression=f"{items.TTL_ATTRIBUTE} > :now",
            ExpressionAttributeValues={":now": items.live_after(self._clock.now_ms())},
            **self._page_size,
        ):
            if items.is_connection(item):
                total += 1
            elif items.is_membership(item):
                per_room[item["roomId"]["S"]] += 1
        return Stats(total_connections=total, room_counts=dict(per_room))

    def _delete_memberships(self, connections: Sequence[Connection]) -> None:
        self._deleter.delete(key for c in connections for key in _membership_keys(c))
        for room_id in sorted({room for c in connections for room in c.rooms}):
            self._forget(room_id)
            self._client.update_item(
                TableName=self._table_name, **items.membership_moved(room_id)
            )


def _membership_keys(connection: Connection) -> list[items.Item]:
    return [items.membership_key(room, connection.id) for room in connection.rooms]

