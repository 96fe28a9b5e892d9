"""RoomLog contract: every room log (with the store that reads its seq) passes every test here."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.domain.errors import MembershipChanged
from roomcast.domain.history import Retention
from roomcast.domain.model import Connection, ConnectionId
from tests.support.room_logs import ALICE, LOG_FACTORIES, OTHER, ROOM, Logged, append, said


@pytest.fixture(params=sorted(LOG_FACTORIES))
def make_log(request: pytest.FixtureRequest, clock: FixedClock) -> Callable[..., Logged]:
    def make(messages: int = 100, seconds: int = 7200) -> Logged:
        return LOG_FACTORIES[request.param](request, clock, Retention(messages, seconds))

    return make


@pytest.fixture
def logged(make_log: Callable[..., Logged]) -> Logged:
    return make_log()


class TestSequence:
    def test_a_rooms_first_message_is_seq_1_and_each_next_one_more(self, logged, clock):
        assert [append(logged, clock, f"m{i}").seq for i in range(5)] == [1, 2, 3, 4, 5]

    def test_rooms_count_apart(self, logged, clock):
        append(logged, clock, "a")
        append(logged, clock, "b")
        assert append(logged, clock, "c", OTHER).seq == 1
        assert (logged.log.latest(ROOM), logged.log.latest(OTHER)) == (2, 1)

    def test_a_stale_or_wrong_after_still_gets_the_next_seq(self, logged, clock):
        for _ in range(3):
            logged.log.append(said(clock, "x"), after=0)
        assert logged.log.append(said(clock, "ahead"), after=10).seq == 4
        assert logged.log.latest(ROOM) == 4

    def test_the_appended_message_keeps_its_text_sender_and_time(self, logged, clock):
        message = append(logged, clock, "héllo 🦊")
        assert (message.text, message.sender, message.timestamp) == (
            "héllo 🦊", ALICE, clock.now_ms()
        )

    def test_a_room_before_its_first_message_is_at_0(self, logged):
        assert logged.log.latest(ROOM) == 0
        assert logged.store.room(ROOM).seq == 0

    def test_concurrent_appenders_never_share_or_skip_a_seq(self, logged, clock):
        seqs: list[int] = []
        lock = threading.Lock()

        def appender(name: str) -> None:
            for i in range(10):
                seq = append(logged, clock, f"{name}-{i}").seq
                with lock:
                    seqs.append(seq)

        threads = [threading.Thread(target=appender, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(seqs) == list(range(1, 41))
        replay = logged.log.replay(ROOM, 0, 40)
        assert [m.seq for m in replay.messages] == list(range(1, 41))


class TestTheStoreReadsTheSeq:
    def test_a_room_read_carries_its_members_and_latest_seq(self, logged, clock):
        now = clock.now_ms()
        connection = Connection(ConnectionId("c-1"), ALICE, now, now // 1000 + 7200)
        logged.store.add(connection)
        logged.store.join(logged.store.get(connection.id), ROOM, now)
        append(logged, clock, "one")
        append(logged, clock, "two")
        room = logged.store.room(ROOM)
        assert room.seq == 2
        assert [m.connection_id for m in room.members] == [connection.id]
        assert list(room.members) == logged.store.members(ROOM)

    def test_every_join_leave_and_removal_moves_the_rooms_version(self, logged, clock):
        now = clock.now_ms()
        alice = Connection(ConnectionId("c-a"), ALICE, now, now // 1000 + 7200)
        bob = Connection(ConnectionId("c-b"), ALICE, now, now // 1000 + 7200)
        versions = [logged.store.room(ROOM).version]
        for connection in (alice, bob):
            logged.store.add(connection)
            logged.store.join(logged.store.get(connection.id), ROOM, now)
            versions.append(logged.store.room(ROOM).version)
        append(logged, clock, "a message moves no membership")
        versions.append(logged.store.room(ROOM).version)
        logged.store.leave(alice.id, ROOM)
        versions.append(logged.store.room(ROOM).version)
        logged.store.remove(bob.id)
        versions.append(logged.store.room(ROOM).version)
        assert versions[2] == versions[3]
        moved = [versions[0], versions[1], versions[2], versions[4], versions[5]]
        assert moved == sorted(set(moved)), versions

    def test_a_member_list_read_before_a_join_cannot_get_a_seq(self, logged, clock):
        now = clock.now_ms()
        alice = Connection(ConnectionId("c-a"), ALICE, now, now // 1000 + 7200)
        logged.store.add(alice)
        logged.store.join(logged.store.get(alice.id), ROOM, now)
        before = logged.store.room(ROOM)
        bob = Connection(ConnectionId("c-b"), ALICE, now, now // 1000 + 7200)
        logged.store.add(bob)
        logged.store.join(logged.store.get(bob.id), ROOM, now)
        try:
            message = logged.log.append(
                said(clock, "to a stale list"), after=before.seq, members_version=before.version
            )
        except MembershipChanged:
            return  # the log shares its record with the membership and saw it move
        # A log that cannot see the membership must be one whose store never reads stale.
        assert [m.connection_id for m in logged.store.room(ROOM).members] == [alice.id, bob.id]
        assert message.seq == 1

    def test_the_log_adds_no_member_and_no_room_to_the_stats(self, logged, clock):
        append(logged, clock, "one")
        assert logged.store.members(ROOM) == []
        assert dict(logged.store.stats().room_counts) == {}


class TestReplay:
    def test_it_returns_what_came_after_since_up_to_until_in_order(self, logged, clock):
        for i in range(1, 6):
            append(logged, clock, f"m{i}")
        replay = logged.log.replay(ROOM, 2, 4)
        assert [(m.seq, m.text) for m in replay.messages] == [(3, "m3"), (4, "m4")]
        assert replay.complete

    def test_nothing_after_since_is_complete_and_empty(self, logged, clock):
        append(logged, clock, "m1")
        replay = logged.log.replay(ROOM, 1, 1)
        assert (replay.messages, replay.complete) == ((), True)

    def test_it_keeps_at_most_the_retained_count_and_says_the_rest_is_lost(
        self, make_log, clock
    ):
        world = make_log(messages=3)
        for i in range(1, 8):
            append(world, clock, f"m{i}")
        replay = world.log.replay(ROOM, 0, 7)
        assert [m.seq for m in replay.messages] == [5, 6, 7]
        assert not replay.complete

    def test_messages_older_than_the_retained_time_are_not_replayed(self, make_log, clock):
        world = make_log(seconds=60)
        append(world, clock, "old")
        clock.advance(seconds=61)
        append(world, clock, "new")
        replay = world.log.replay(ROOM, 0, 2)
        assert [m.text for m in replay.messages] == ["new"]
        assert not replay.complete

    @pytest.mark.parametrize("retention", [{"messages": 0}, {"seconds": 0}])
    def test_with_retention_off_seqs_still_grow_and_nothing_is_replayed(
        self, make_log, clock, retention
    ):
        world = make_log(**retention)
        assert [append(world, clock, f"m{i}").seq for i in range(3)] == [1, 2, 3]
        replay = world.log.replay(ROOM, 1, 3)
        assert (replay.messages, replay.complete) == ((), False)
