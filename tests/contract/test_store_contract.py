"""ConnectionStore contract: every store adapter must pass every test here."""

from __future__ import annotations

import threading

import pytest

from roomcast.domain.access import parse_grant
from roomcast.domain.errors import ConcurrentUpdate, ConnectionNotFound
from roomcast.domain.model import (
    NO_GRANT,
    NOTHING,
    ConnectionId,
    Departure,
    Permission,
    RoomId,
    UserId,
)
from tests.support.store_connections import OTHER, ROOM, joined, make_connection


class TestConnections:
    def test_an_added_connection_reads_back_whole(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        assert store.get(connection.id) == connection

    def test_a_missing_connection_reads_as_none(self, store):
        assert store.get(ConnectionId("nobody")) is None

    def test_an_expired_connection_reads_as_none(self, store, clock):
        connection = make_connection(clock, "alice", ttl=60)
        store.add(connection)
        clock.advance(seconds=61)
        assert store.get(connection.id) is None

    def test_remove_returns_the_connection_with_its_rooms(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection)
        removed = store.remove(connection.id)
        assert removed is not None and removed.in_room(ROOM)
        assert store.get(connection.id) is None
        assert store.members(ROOM) == []

    def test_removing_a_missing_connection_returns_none(self, store):
        assert store.remove(ConnectionId("nobody")) is None

    def test_connections_lists_every_stored_one_including_expired(self, store, clock):
        alive, stale = make_connection(clock, "alive"), make_connection(clock, "stale", ttl=1)
        store.add(alive)
        store.add(stale)
        clock.advance(seconds=5)
        assert {c.id for c in store.connections()} == {alive.id, stale.id}

    def test_remove_deletes_the_memberships_of_every_room(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        rooms = [RoomId(f"room-{i}") for i in range(30)]
        for room in rooms:
            joined(store, clock, connection, room)
        store.add(make_connection(clock, "bob"))
        store.remove(connection.id)
        assert all(store.members(room) == [] for room in rooms)
        assert store.stats().total_connections == 1


class TestGrants:
    """The grant checked on $connect is carried, never decided, by the store."""

    GRANT = parse_grant({"lobby": ["join", "send"], "news-*": ["join"], "x": []})

    def test_a_connections_grant_reads_back_whole(self, store, clock):
        connection = make_connection(clock, "alice", grant=self.GRANT)
        store.add(connection)
        assert store.get(connection.id).grant == self.GRANT
        assert [c.grant for c in store.connections()] == [self.GRANT]

    def test_a_connection_without_a_grant_reads_back_with_none(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        assert store.get(connection.id).grant == NO_GRANT

    def test_the_grant_outlives_joins_and_leaves_and_comes_back_on_remove(self, store, clock):
        connection = make_connection(clock, "alice", grant=self.GRANT)
        store.add(connection)
        assert joined(store, clock, connection).grant == self.GRANT
        joined(store, clock, connection, RoomId("news-1"))
        store.leave(connection.id, ROOM)
        assert store.get(connection.id).grant == self.GRANT
        assert store.remove(connection.id).grant == self.GRANT

    def test_a_membership_keeps_what_the_grant_gave_in_its_room(self, store, clock):
        connection = make_connection(clock, "alice", grant=self.GRANT)
        store.add(connection)
        joined(store, clock, connection, ROOM)
        joined(store, clock, connection, RoomId("news-1"))
        [speaker] = store.members(ROOM)
        [listener] = store.room(RoomId("news-1")).members
        assert speaker.permissions == {Permission.JOIN, Permission.SEND}
        assert listener.permissions == {Permission.JOIN}

    def test_a_membership_without_a_grant_has_no_permissions(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection)
        assert store.members(ROOM)[0].permissions == NOTHING


class TestMembership:
    def test_a_joined_connection_is_a_member_with_its_user_id(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection)
        [member] = store.members(ROOM)
        assert (member.connection_id, member.user_id) == (connection.id, UserId("alice"))

    def test_join_returns_the_connection_with_the_room(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        updated = joined(store, clock, connection)
        assert updated.in_room(ROOM)
        assert store.get(connection.id).in_room(ROOM)

    def test_join_with_eviction_leaves_the_evicted_room_atomically(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection, ROOM)
        joined(store, clock, connection, OTHER, evict=[ROOM])
        assert store.members(ROOM) == []
        assert [m.user_id for m in store.members(OTHER)] == [UserId("alice")]
        assert list(store.get(connection.id).rooms) == [OTHER]

    def test_several_rooms_per_connection(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection, ROOM)
        joined(store, clock, connection, OTHER)
        assert set(store.get(connection.id).rooms) == {ROOM, OTHER}
        assert len(store.members(ROOM)) == len(store.members(OTHER)) == 1

    def test_join_after_the_connection_was_removed_fails_and_writes_nothing(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        stale_read = store.get(connection.id)
        store.remove(connection.id)
        with pytest.raises(ConnectionNotFound):
            store.join(stale_read, ROOM, clock.now_ms())
        assert store.members(ROOM) == []
        assert store.get(connection.id) is None

    def test_join_from_a_stale_read_is_refused(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        stale_read = store.get(connection.id)
        joined(store, clock, connection, ROOM)
        with pytest.raises(ConcurrentUpdate):
            store.join(stale_read, OTHER, clock.now_ms())
        assert store.members(OTHER) == []

    def test_two_racing_joins_of_one_connection_let_exactly_one_win(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        read = store.get(connection.id)
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def race(room: RoomId) -> None:
            barrier.wait()
            try:
                store.join(read, room, clock.now_ms())
                outcomes.append("won")
            except ConcurrentUpdate:
                outcomes.append("lost")

        threads = [threading.Thread(target=race, args=(r,)) for r in (ROOM, OTHER)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["lost", "won"]
        assert len(store.get(connection.id).rooms) == 1
        assert len(store.members(ROOM)) + len(store.members(OTHER)) == 1

    def test_leave_drops_the_membership(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection)
        assert store.leave(connection.id, ROOM) is True
        assert store.members(ROOM) == []
        assert not store.get(connection.id).in_room(ROOM)

    def test_leaving_a_room_not_joined_reports_false(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        assert store.leave(connection.id, ROOM) is False

    def test_leave_bumps_the_version_so_a_stale_join_is_refused(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection)
        before_leave = store.get(connection.id)
        store.leave(connection.id, ROOM)
        with pytest.raises(ConcurrentUpdate):
            store.join(before_leave, OTHER, clock.now_ms(), [ROOM])

    def test_expired_members_are_not_listed(self, store, clock):
        short = make_connection(clock, "short", ttl=60)
        long = make_connection(clock, "long")
        for connection in (short, long):
            store.add(connection)
            joined(store, clock, connection)
        clock.advance(seconds=61)
        assert [m.user_id for m in store.members(ROOM)] == [UserId("long")]

    def test_a_member_expiring_after_the_room_was_read_is_not_listed_in_the_next_read(
        self, store, clock
    ):
        short = make_connection(clock, "short", ttl=60)
        long = make_connection(clock, "long")
        for connection in (short, long):
            store.add(connection)
            joined(store, clock, connection)
        assert len(store.room(ROOM).members) == 2  # a store may keep what it read
        clock.advance(seconds=59)
        assert len(store.room(ROOM).members) == 2
        clock.advance(seconds=2)
        assert [m.user_id for m in store.room(ROOM).members] == [UserId("long")]

    def test_stats_count_live_connections_and_members_per_room(self, store, clock):
        for name, room in (("a", ROOM), ("b", ROOM), ("c", OTHER)):
            connection = make_connection(clock, name)
            store.add(connection)
            joined(store, clock, connection, room)
        store.add(make_connection(clock, "idle"))
        stats = store.stats()
        assert stats.total_connections == 4
        assert dict(stats.room_counts) == {"lobby": 2, "games": 1}


class TestLargeRooms:
    def test_a_room_of_2500_members_is_listed_whole(self, store, clock):
        for i in range(2500):
            connection = make_connection(clock, f"user{i:04d}")
            store.add(connection)
            store.join(connection, ROOM, clock.now_ms())
        members = store.members(ROOM)
        assert len(members) == 2500
        assert len({m.connection_id for m in members}) == 2500


class TestAnnouncements:
    def test_a_join_is_unannounced_until_marked(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        assert joined(store, clock, connection).is_unannounced_in(ROOM)
        assert store.get(connection.id).is_unannounced_in(ROOM)
        before = store.get(connection.id).version
        store.mark_announced(connection.id, ROOM)
        after = store.get(connection.id)
        assert not after.is_unannounced_in(ROOM)
        assert after.version == before + 1

    def test_an_evicted_room_is_an_unannounced_departure_until_marked(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection, ROOM)
        store.mark_announced(connection.id, ROOM)
        joined(store, clock, connection, OTHER, evict=[ROOM])
        assert store.get(connection.id).unannounced_departures == {ROOM}
        store.mark_announced(connection.id, OTHER, [ROOM])
        stored = store.get(connection.id)
        assert (stored.unannounced, stored.unannounced_departures) == (frozenset(), frozenset())

    def test_marking_what_is_not_pending_changes_nothing(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection)
        store.mark_announced(connection.id, ROOM)
        settled = store.get(connection.id)
        store.mark_announced(connection.id, ROOM)
        store.mark_announced(ConnectionId("nobody"), ROOM)
        assert store.get(connection.id) == settled
        assert store.get(ConnectionId("nobody")) is None

    def test_a_connection_added_again_starts_with_nothing_pending(self, store, clock):
        connection = make_connection(clock, "alice")
        store.add(connection)
        joined(store, clock, connection)
        store.add(connection)
        assert store.get(connection.id) == connection


def member(store, clock, name, room=ROOM):  # type: ignore[no-untyped-def]
    connection = make_connection(clock, name)
    store.add(connection)
    return joined(store, clock, connection, room)


def departure_of(connection) -> Departure:  # type: ignore[no-untyped-def]
    return Departure(connection.id, connection.user_id)


class TestDepartures:
    """A removal or a leave leaves its departure with the room until a claim takes it."""

    def test_a_removal_leaves_its_departure_in_each_of_its_rooms(self, store, clock):
        alice = member(store, clock, "alice")
        alice = joined(store, clock, alice, OTHER)
        member(store, clock, "bob")
        store.remove(alice.id)
        for room in (ROOM, OTHER):
            assert store.room(room).departures == (departure_of(alice),)
        assert sorted(store.departed_rooms()) == [OTHER, ROOM]
        assert [m.user_id for m in store.members(ROOM)] == [UserId("bob")]
        assert dict(store.stats().room_counts) == {"lobby": 1}

    def test_a_removal_moves_the_version_of_its_rooms(self, store, clock):
        alice = member(store, clock, "alice")
        before = store.room(ROOM).version
        store.remove(alice.id)
        assert store.room(ROOM).version != before

    def test_a_connection_in_no_room_leaves_no_departure(self, store, clock):
        alice = make_connection(clock, "alice")
        store.add(alice)
        store.remove(alice.id)
        assert list(store.departed_rooms()) == []

    def test_a_leave_naming_its_user_leaves_its_departure(self, store, clock):
        alice = member(store, clock, "alice")
        assert store.leave(alice.id, ROOM, alice.user_id) is True
        assert store.room(ROOM).departures == (departure_of(alice),)

    def test_a_leave_naming_no_user_or_dropping_nothing_leaves_none(self, store, clock):
        alice, bob = member(store, clock, "alice"), member(store, clock, "bob")
        assert store.leave(alice.id, ROOM) is True
        assert store.leave(bob.id, OTHER, bob.user_id) is False
        assert store.room(ROOM).departures == store.room(OTHER).departures == ()
        assert list(store.departed_rooms()) == []

    def test_a_claim_takes_each_departure_once(self, store, clock):
        alice, bob = member(store, clock, "alice"), member(store, clock, "bob")
        store.remove(alice.id)
        store.remove(bob.id)
        read_once, read_twice = store.room(ROOM), store.room(ROOM)
        assert read_once.departures == (departure_of(alice), departure_of(bob))
        assert store.claim_departures(ROOM, read_once.departures[:1]) == [departure_of(alice)]
        assert store.claim_departures(ROOM, read_twice.departures) == [departure_of(bob)]
        assert store.claim_departures(ROOM, read_twice.departures) == []
        assert store.room(ROOM).departures == ()
        assert list(store.departed_rooms()) == []

    def test_claiming_what_is_not_pending_takes_nothing(self, store, clock):
        alice = make_connection(clock, "alice")
        assert store.claim_departures(ROOM, [departure_of(alice)]) == []
        assert store.claim_departures(ROOM, []) == []
        assert list(store.departed_rooms()) == []
