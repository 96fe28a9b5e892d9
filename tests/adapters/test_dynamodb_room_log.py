"""What the DynamoDB room log must get right beyond the RoomLog contract: its epoch, and a
write that committed but was answered with an error."""

from __future__ import annotations

import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_history import DynamoDBRoomLog
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.domain.errors import MembershipChanged
from roomcast.domain.history import Retention
from roomcast.domain.model import Connection, ConnectionId, UserId
from tests.support.faults import COMMITTED_THEN, LostAnswers
from tests.support.room_logs import LOG_FACTORIES, ROOM, Logged, append, said


@pytest.fixture(params=[b for b in sorted(LOG_FACTORIES) if b != "memory"])
def dynamodb_logged(request: pytest.FixtureRequest, clock: FixedClock) -> Logged:
    return LOG_FACTORIES[request.param](request, clock, Retention())


def test_processes_on_one_table_share_an_epoch_and_other_tables_do_not(dynamodb_logged, clock):
    world = dynamodb_logged
    same = DynamoDBRoomLog(world.client, world.table_name, clock)
    other = DynamoDBRoomLog(world.client, "another-table", clock)
    assert same.epoch == world.log.epoch != other.epoch


def test_in_memory_logs_each_count_for_themselves(clock):
    assert InMemoryRoomLog(clock).epoch != InMemoryRoomLog(clock).epoch


class TestCommittedWritesAnsweredWithAnError:
    """DynamoDB only: a send whose write committed but whose answer was lost is retried by
    botocore; the retry must not append the message a second time."""

    @pytest.mark.parametrize("fault", COMMITTED_THEN)
    def test_a_retried_append_is_appended_once(self, dynamodb_logged, clock, fault):
        world = dynamodb_logged
        append(world, clock, "before")
        answers = LostAnswers(world.client, "TransactWriteItems", fault)
        answers.lose(1)
        assert append(world, clock, "lost answer").seq == 2
        assert answers.attempts == 2
        assert append(world, clock, "after").seq == 3
        replay = world.log.replay(ROOM, 0, 3)
        assert [m.text for m in replay.messages] == ["before", "lost answer", "after"]


def joined(store, clock, name: str) -> Connection:
    """A connection `name`, added to `store` and joined to ROOM through it."""
    now = clock.now_ms()
    connection = Connection(ConnectionId(f"c-{name}"), UserId(name), now, now // 1000 + 7200)
    store.add(connection)
    store.join(connection, ROOM, now)
    return connection


class TestAStaleMemberList:
    def test_an_append_against_a_member_list_read_before_a_join_is_refused(
        self, dynamodb_logged, clock
    ):
        world = dynamodb_logged
        joined(world.store, clock, "one")
        before = world.store.room(ROOM)
        joined(world.store, clock, "two")
        with pytest.raises(MembershipChanged):
            world.log.append(
                said(clock, "stale"), after=before.seq, members_version=before.version
            )
        fresh = world.store.room(ROOM)
        message = world.log.append(said(clock, "fresh"), fresh.seq, fresh.version)
        assert message.seq == 1
        assert len(fresh.members) == 2

    def test_another_process_sees_a_join_and_reads_the_members_again(
        self, dynamodb_logged, clock
    ):
        world = dynamodb_logged
        first = joined(world.store, clock, "one")
        assert len(world.store.room(ROOM).members) == 1  # now known to this process
        elsewhere = DynamoDBConnectionStore(world.client, world.table_name, clock)
        late = joined(elsewhere, clock, "two")
        assert [m.connection_id for m in world.store.room(ROOM).members] == [first.id, late.id]
