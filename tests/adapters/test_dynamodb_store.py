"""What the DynamoDB store must get right beyond the contract: layout, expiry, paging, batches."""

from __future__ import annotations

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_items import TTL_ATTRIBUTE, connection_key, membership_key
from roomcast.adapters.dynamodb_paging import BatchDeleter, BatchWriteIncomplete
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore, make_dynamodb_client
from roomcast.adapters.dynamodb_transactions import ROOMS_PER_REMOVAL
from roomcast.domain.access import parse_grant
from roomcast.domain.errors import ConcurrentUpdate, ConnectionNotFound
from roomcast.domain.model import Connection, Departure, RoomId
from roomcast.entrypoints.gateway.template import load_template, ttl_attribute
from tests.adapters.dynamodb_helpers import (
    RequestLog,
    ThrottledBatchWrites,
    TransactionSizes,
    connection_items,
    raw_items,
)
from tests.support.dynamodb_tables import DYNAMODB_BACKENDS, DynamoDBTable, dynamodb_table
from tests.support.store_connections import OTHER, ROOM, joined, make_connection


@pytest.fixture(params=DYNAMODB_BACKENDS)
def table(request: pytest.FixtureRequest) -> DynamoDBTable:
    return dynamodb_table(request, request.param)


def store_on(table: DynamoDBTable, clock: FixedClock, **knobs: object) -> DynamoDBConnectionStore:
    return DynamoDBConnectionStore(table.client, table.name, clock, **knobs)  # type: ignore[arg-type]


def add_members(
    store: DynamoDBConnectionStore, clock: FixedClock, count: int, ttl: int = 7200
) -> list[Connection]:
    """Connections that joined ROOM, as the store returned them (rooms included)."""
    people = [make_connection(clock, f"user{i:02d}", ttl) for i in range(count)]
    for person in people:
        store.add(person)
    return [joined(store, clock, person) for person in people]


class TestLayout:
    def test_items_carry_the_ttl_attribute_the_template_declares(self, table, clock):
        store_on(table, clock).add(make_connection(clock, "alice"))
        [item] = raw_items(table.client, table.name)
        assert ttl_attribute(load_template()) == TTL_ATTRIBUTE
        assert int(item[TTL_ATTRIBUTE]["N"]) == clock.now_ms() // 1000 + 7200

    def test_a_membership_item_holds_what_a_member_listing_needs(self, table, clock):
        store = store_on(table, clock)
        alice = make_connection(clock, "alice")
        store.add(alice)
        joined(store, clock, alice)
        item = table.client.get_item(TableName=table.name, Key=membership_key(ROOM, alice.id))
        assert {"userId", "joinedAt", TTL_ATTRIBUTE} <= set(item["Item"])

    def test_without_a_grant_items_are_as_they_were_before_grants(self, table, clock):
        """`open` room access keeps no grant: its items gain no attribute, no byte."""
        store = store_on(table, clock)
        alice = make_connection(clock, "alice")
        store.add(alice)
        joined(store, clock, alice)
        items = raw_items(table.client, table.name)
        assert all({"grant", "permissions"}.isdisjoint(item) for item in items)

    def test_a_grant_is_a_map_of_room_patterns_to_string_sets(self, table, clock):
        store = store_on(table, clock)
        grant = parse_grant({"lobby": ["send", "join"], "news-*": ["join"]})
        alice = make_connection(clock, "alice", grant=grant)
        store.add(alice)
        joined(store, clock, alice)
        stored = table.client.get_item(TableName=table.name, Key=connection_key(alice.id))
        assert stored["Item"]["grant"] == {"M": {
            "lobby": {"SS": ["join", "send"]}, "news-*": {"SS": ["join"]}}}
        member = table.client.get_item(TableName=table.name, Key=membership_key(ROOM, alice.id))
        assert sorted(member["Item"]["permissions"]["SS"]) == ["join", "send"]


class TestRoomIds:
    def test_room_ids_with_dots_and_colons_are_map_keys_not_paths(self, table, clock):
        store = store_on(table, clock)
        alice = make_connection(clock, "alice")
        store.add(alice)
        odd = RoomId("a.b:c-d_e")
        joined(store, clock, alice, odd)
        assert store.get(alice.id).rooms.keys() == {odd}
        assert store.leave(alice.id, odd) is True
        assert store.get(alice.id).rooms == {}
        assert store.members(odd) == []


class TestExpiry:
    def test_expired_items_stay_in_the_table_but_no_read_sees_them(self, table, clock):
        store = store_on(table, clock)
        [short] = add_members(store, clock, 1, ttl=60)
        clock.advance(seconds=60)
        assert len(connection_items(table.client, table.name)) == 2
        assert store.get(short.id) is None
        assert store.members(ROOM) == []
        assert store.stats().total_connections == 0
        assert dict(store.stats().room_counts) == {}
        assert [c.id for c in store.connections()] == [short.id]


class TestPaging:
    def test_members_are_read_consistently_across_every_page(self, table, clock):
        store = store_on(table, clock, page_size=2)
        add_members(store, clock, 7)
        log = RequestLog(table.client)
        assert len(store.members(ROOM)) == 7
        assert log.count("Query") >= 4

    def test_pages_emptied_by_the_expiry_filter_do_not_end_the_listing(self, table, clock):
        store = store_on(table, clock, page_size=1)
        add_members(store, clock, 4, ttl=60)
        late = make_connection(clock, "late", ttl=600)
        store.add(late)
        joined(store, clock, late)
        clock.advance(seconds=120)
        assert [m.user_id.value for m in store.members(ROOM)] == ["late"]
        assert store.stats().total_connections == 1

    def test_connections_and_stats_scan_every_page(self, table, clock):
        store = store_on(table, clock, page_size=3)
        add_members(store, clock, 5)
        log = RequestLog(table.client)
        assert len(list(store.connections())) == 5
        assert dict(store.stats().room_counts) == {"lobby": 5}
        assert log.count("Scan") >= 2 * 3


def in_rooms(store: DynamoDBConnectionStore, clock: FixedClock, count: int) -> Connection:
    """One connection that joined `count` rooms (a store of its own has no room limit)."""
    connection = make_connection(clock, "alice")
    store.add(connection)
    for i in range(count):
        connection = store.join(connection, RoomId(f"room-{i:02d}"), clock.now_ms())
    return connection


class TestBatchDeletes:
    def test_unprocessed_deletes_are_retried_until_the_table_is_empty(self, table, clock):
        """A connection added again over one in rooms drops its memberships in batches."""
        connection = in_rooms(store_on(table, clock), clock, 40)
        throttled = ThrottledBatchWrites(table.client, throttled_calls=3)
        sleeps: list[float] = []
        deleter = BatchDeleter(throttled, table.name, sleep=sleeps.append)
        store_on(table, clock, deleter=deleter).add(connection)
        assert [i["sk"]["S"] for i in connection_items(table.client, table.name)] == [
            "CONNECTION"
        ]
        assert max(throttled.batch_sizes) <= 25
        assert sleeps == [0.05, 0.1, 0.2]

    def test_deletes_still_unprocessed_after_the_last_attempt_raise(self, table, clock):
        throttled = ThrottledBatchWrites(table.client, throttled_calls=100)
        sleeps: list[float] = []
        deleter = BatchDeleter(throttled, table.name, attempts=8, sleep=sleeps.append)
        keys = [{"pk": {"S": f"ROOM#r{i}"}, "sk": {"S": "CONN#c"}} for i in range(10)]
        with pytest.raises(BatchWriteIncomplete):
            deleter.delete(keys)
        assert len(throttled.batch_sizes) == 8
        assert sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]



class TestRemovals:
    """A removal is the connection's delete, its memberships' and its departures in one
    transaction, so nothing of it can land without the rest."""

    def test_a_removal_in_rooms_is_one_transaction_and_no_batch(self, table, clock):
        store = store_on(table, clock)
        connection = in_rooms(store, clock, 3)
        log = RequestLog(table.client)
        removed = store.remove(connection.id)
        assert removed is not None and len(removed.rooms) == 3
        assert log.operations == ["DeleteItem", "TransactWriteItems"]
        assert connection_items(table.client, table.name) == []
        alice = Departure(connection.id, connection.user_id)
        assert all(store.room(room).departures == (alice,) for room in connection.rooms)

    def test_a_removal_past_one_transaction_leaves_the_oldest_rooms_first(self, table, clock):
        store = store_on(table, clock)
        connection = in_rooms(store, clock, 60)
        sizes = TransactionSizes(table.client)
        removed = store.remove(connection.id)
        assert removed is not None and len(removed.rooms) == 60
        assert sizes.items == [1 + 2 * ROOMS_PER_REMOVAL, 1 + 2 * (60 - ROOMS_PER_REMOVAL)]
        assert connection_items(table.client, table.name) == []
        assert {room for room in store.departed_rooms()} == set(connection.rooms)

    def test_a_removal_cut_short_leaves_a_connection_in_the_rooms_not_reached(
        self, table, clock
    ):
        store = store_on(table, clock)
        connection = in_rooms(store, clock, 60)
        sizes = TransactionSizes(table.client, fail_after=1)
        with pytest.raises(RuntimeError):
            store.remove(connection.id)
        left = store.get(connection.id)
        assert left is not None
        assert sorted(left.rooms) == connection.rooms_oldest_first()[ROOMS_PER_REMOVAL:]
        assert len(list(store.departed_rooms())) == ROOMS_PER_REMOVAL
        sizes.fail_after = None
        assert store.remove(connection.id) is not None
        assert len(list(store.departed_rooms())) == 60

    def test_a_claim_takes_each_departure_once(self, table, clock):
        store = store_on(table, clock)
        [alice, bob] = add_members(store, clock, 2)
        store.remove(alice.id)
        store.remove(bob.id)
        pending = store.room(ROOM).departures
        assert store.claim_departures(ROOM, pending[:1]) == list(pending[:1])
        assert store.claim_departures(ROOM, pending) == list(pending[1:])
        assert store.claim_departures(ROOM, pending) == []
        assert list(store.departed_rooms()) == []


class TestRefusedWrites:
    def test_join_after_removal_writes_nothing_at_all(self, table, clock):
        store = store_on(table, clock)
        alice = make_connection(clock, "alice")
        store.add(alice)
        stale_read = store.get(alice.id)
        store.remove(alice.id)
        with pytest.raises(ConnectionNotFound):
            store.join(stale_read, ROOM, clock.now_ms())
        assert connection_items(table.client, table.name) == []

    def test_a_stale_join_leaves_every_item_as_it_was(self, table, clock):
        store = store_on(table, clock)
        alice = make_connection(clock, "alice")
        store.add(alice)
        stale_read = store.get(alice.id)
        joined(store, clock, alice)
        before = raw_items(table.client, table.name)
        with pytest.raises(ConcurrentUpdate):
            store.join(stale_read, OTHER, clock.now_ms(), [ROOM])
        assert raw_items(table.client, table.name) == before

    def test_a_join_beyond_the_transaction_limit_is_refused_before_any_request(
        self, table, clock
    ):
        store = store_on(table, clock)
        alice = make_connection(clock, "alice")
        store.add(alice)
        log = RequestLog(table.client)
        with pytest.raises(ValueError):
            store.join(alice, ROOM, clock.now_ms(), [RoomId(f"r{i}") for i in range(99)])
        assert log.operations == []

    def test_leave_deletes_a_membership_whose_connection_item_is_gone(self, table, clock):
        store = store_on(table, clock)
        [alice] = add_members(store, clock, 1)
        table.client.delete_item(TableName=table.name, Key=connection_key(alice.id))
        assert store.leave(alice.id, ROOM) is True
        assert connection_items(table.client, table.name) == []
        assert store.leave(alice.id, ROOM) is False


class TestClientFactory:
    def test_the_client_honours_aws_endpoint_url_dynamodb(self, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
        client = make_dynamodb_client("eu-west-1")
        assert client.meta.endpoint_url == "http://127.0.0.1:9"
        assert client.meta.region_name == "eu-west-1"

    def test_the_client_retries_in_standard_mode(self, monkeypatch):
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        retries = make_dynamodb_client().meta.config.retries
        assert retries["mode"] == "standard"
        assert retries["total_max_attempts"] == 5
