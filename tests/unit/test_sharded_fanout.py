"""A room bigger than the shard size: the sender's invocation posts the first shard, the
queue carries the rest, and a worker's `deliver` reaches each member exactly once."""

from __future__ import annotations

import json

import pytest

from roomcast.adapters.memory_fanout import InMemoryFanoutQueue, InMemoryWorkLedger
from roomcast.domain.errors import FailureKind, ShardUndelivered
from roomcast.domain.fanout import (
    MAX_SHARD_ATTEMPTS,
    MalformedShard,
    Shard,
    plan,
    rate_per_worker,
    workers_for,
)
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId, RoomId
from roomcast.domain.service import ChatService
from roomcast.domain.sharding import Sharding
from tests.unit.chat import Chat

SHARD_SIZE = 3
ROOM = "big"


class RefusingQueue:
    """Takes nothing: every shard comes back unqueued."""

    def __init__(self) -> None:
        self.offered = 0

    def enqueue(self, shards, delay_seconds=0):
        self.offered += len(shards)
        return list(shards)


@pytest.fixture
def queue() -> InMemoryFanoutQueue:
    return InMemoryFanoutQueue()


@pytest.fixture
def ledger() -> InMemoryWorkLedger:
    return InMemoryWorkLedger()


@pytest.fixture
def sharded(memory_store, fake_notifier, clock, room_log, queue, ledger) -> Chat:
    service = ChatService(memory_store, fake_notifier, clock, log=room_log,
                          sharding=Sharding(queue, ledger, SHARD_SIZE))
    return Chat(service, fake_notifier)


def members(chat: Chat, count: int) -> list[ConnectionId]:
    joined = [chat.connect(f"user{n:02}") for n in range(count)]
    for connection_id in joined:
        assert chat.join(connection_id, ROOM).status_code == 200
    queue = chat.service.sharding.queue
    if isinstance(queue, InMemoryFanoutQueue):
        drain(chat, queue)  # the joins' userJoined frames
    else:
        queue.offered = 0
    chat.notifier.clear()
    return joined


def drain(chat: Chat, queue: InMemoryFanoutQueue) -> list[int]:
    """Deliver every queued shard as a worker would; the delays they were queued with."""
    delays = []
    while (taken := queue.take()) is not None:
        shard, delay = taken
        delays.append(delay)
        chat.service.deliver(Shard.from_json(shard.to_json()))  # as it crosses SQS
    return delays


def messages(chat: Chat, connection_id: ConnectionId) -> list[str]:
    return [f["message"] for f in chat.frames(connection_id) if f["action"] == "message"]


class TestPlanning:
    def test_the_first_shard_is_posted_at_once_and_the_rest_is_cut_to_the_shard_size(self):
        ids = [ConnectionId(f"c{n}") for n in range(8)]
        frame = Frame({"action": "message"})
        first, shards = plan(RoomId(ROOM), ids, frame, 3, new_id=lambda: "w")
        assert list(first) == ids[:3]
        assert [list(s.recipients) for s in shards] == [ids[3:6], ids[6:]]
        assert [s.work_id for s in shards] == ["w-1", "w-2"]

    def test_a_room_within_the_shard_size_is_not_sharded(self):
        ids = [ConnectionId(f"c{n}") for n in range(3)]
        first, shards = plan(RoomId(ROOM), ids, Frame({"action": "message"}), 3)
        assert (list(first), shards) == (ids, [])

    def test_a_shard_survives_its_trip_through_json(self):
        shard = Shard("w-1", RoomId(ROOM), Frame({"action": "message", "message": "héllo"}),
                      (ConnectionId("a"), ConnectionId("b")), attempt=2)
        assert Shard.from_json(shard.to_json()) == shard

    @pytest.mark.parametrize("body", [
        "not json", "[]", '{"format": 2}', json.dumps({"format": 1, "workId": "w"}),
        json.dumps({"format": 1, "workId": "w", "roomId": "bad room!", "frame": {"action": "m"},
                    "to": ["a"], "attempt": 0}),
        json.dumps({"format": 1, "workId": "w", "roomId": "r", "frame": {"action": "m"},
                    "to": [], "attempt": 0}),
        json.dumps({"format": 1, "workId": "w", "roomId": "r", "frame": {},
                    "to": ["a"], "attempt": 0}),
        json.dumps({"format": 1, "workId": "w", "roomId": "r", "frame": {"action": "m"},
                    "to": ["a"], "attempt": -1}),
    ])
    def test_a_body_roomcast_did_not_write_is_malformed(self, body):
        with pytest.raises(MalformedShard):
            Shard.from_json(body)

    @pytest.mark.parametrize(("budget", "workers"), [(1, 2), (1_000, 2), (5_000, 5),
                                                     (10_000, 10), (10_001, 11)])
    def test_the_budget_is_shared_by_workers_that_together_stay_within_it(self, budget, workers):
        assert workers_for(budget) == workers
        assert rate_per_worker(budget) * workers == pytest.approx(budget)


class TestABigRoom:
    def test_every_member_gets_the_message_exactly_once(self, sharded, queue):
        room = members(sharded, 10)
        assert sharded.send(room[0], ROOM, "hello all").status_code == 200
        reached_at_once = [c for c in room if messages(sharded, c)]
        assert len(reached_at_once) == SHARD_SIZE
        assert len(queue) == 3  # 7 more members in shards of 3
        drain(sharded, queue)
        assert all(messages(sharded, c) == ["hello all"] for c in room)

    def test_the_queued_frame_is_the_one_posted_at_once(self, sharded, queue):
        room = members(sharded, 5)
        sharded.send(room[0], ROOM, "same frame")
        drain(sharded, queue)
        frames = [next(f for f in sharded.frames(c) if f["action"] == "message") for c in room]
        assert all(frame == frames[0] for frame in frames)

    def test_presence_frames_are_sharded_too(self, sharded, queue):
        room = members(sharded, 7)
        newcomer = sharded.connect("newcomer")
        sharded.join(newcomer, ROOM)
        drain(sharded, queue)
        for connection_id in room:
            assert sharded.actions(connection_id) == ["userJoined"]

    def test_a_redelivered_shard_is_not_delivered_twice(self, sharded, queue):
        room = members(sharded, 6)
        sharded.send(room[0], ROOM, "once")
        shard, _ = queue.take()
        assert sharded.service.deliver(shard).delivered == SHARD_SIZE
        assert sharded.service.deliver(shard).skipped
        assert all(messages(sharded, c) == ["once"] for c in room)

    def test_a_gone_member_in_a_shard_is_removed_and_the_room_hears_it_left(
        self, sharded, queue, memory_store
    ):
        room = members(sharded, 7)
        sharded.notifier.mark_gone(room[-1])
        sharded.send(room[0], ROOM, "anyone there")
        drain(sharded, queue)
        assert memory_store.get(room[-1]) is None
        assert sharded.frames(room[1])[-1]["action"] == "userLeft"

    def test_a_member_failing_for_a_passing_reason_is_queued_again_alone_and_later(
        self, sharded, queue, fake_notifier
    ):
        room = members(sharded, 6)
        fake_notifier.mark_failing(room[-1], FailureKind.RATE_LIMITED)
        sharded.send(room[0], ROOM, "busy")
        shard, _ = queue.take()
        report = sharded.service.deliver(shard)
        assert (report.delivered, report.requeued) == (2, 1)
        retry, delay = queue.take()
        assert (list(retry.recipients), retry.attempt, delay) == ([room[-1]], 1, 2)
        fake_notifier.stop_failing(room[-1])
        sharded.service.deliver(retry)
        assert all(messages(sharded, c) == ["busy"] for c in room)

    def test_a_member_refused_for_good_is_not_queued_again(self, sharded, queue, fake_notifier):
        room = members(sharded, 6)
        fake_notifier.mark_failing(room[-1], FailureKind.FORBIDDEN)
        sharded.send(room[0], ROOM, "no")
        drain(sharded, queue)
        assert len(queue) == 0 and messages(sharded, room[-1]) == []

    def test_after_the_last_attempt_the_shard_goes_back_to_the_queue(
        self, sharded, queue, fake_notifier
    ):
        room = members(sharded, 6)
        fake_notifier.mark_failing(room[-1], FailureKind.SERVER_ERROR)
        sharded.send(room[0], ROOM, "down")
        shard, _ = queue.take()
        last = shard.retry([room[-1]])
        for _ in range(MAX_SHARD_ATTEMPTS - 2):
            last = last.retry(last.recipients)
        with pytest.raises(ShardUndelivered):
            sharded.service.deliver(last)
        assert not sharded.service.sharding.ledger.is_done(last.work_id)


class TestWhenTheQueueFails:
    def test_shards_the_queue_refuses_are_posted_by_the_sender(
        self, memory_store, fake_notifier, clock, room_log
    ):
        refusing = RefusingQueue()
        service = ChatService(memory_store, fake_notifier, clock, log=room_log,
                              sharding=Sharding(refusing, InMemoryWorkLedger(), SHARD_SIZE))
        chat = Chat(service, fake_notifier)
        room = members(chat, 8)
        chat.send(room[0], ROOM, "nothing dropped")
        assert refusing.offered == 2
        assert all(messages(chat, c) == ["nothing dropped"] for c in room)

    def test_a_queue_that_raises_leaves_the_sender_to_post_to_all(
        self, memory_store, fake_notifier, clock, room_log
    ):
        class Broken:
            def enqueue(self, shards, delay_seconds=0):
                raise ConnectionError("queue unreachable")

        service = ChatService(memory_store, fake_notifier, clock, log=room_log,
                              sharding=Sharding(Broken(), InMemoryWorkLedger(), SHARD_SIZE))
        chat = Chat(service, fake_notifier)
        room = members(chat, 7)
        assert chat.send(room[0], ROOM, "still here").status_code == 200
        assert all(messages(chat, c) == ["still here"] for c in room)

    def test_a_requeue_the_queue_will_not_take_goes_back_whole(
        self, memory_store, fake_notifier, clock, room_log
    ):
        service = ChatService(memory_store, fake_notifier, clock, log=room_log,
                              sharding=Sharding(RefusingQueue(), InMemoryWorkLedger(), 2))
        shard = Shard("w-1", RoomId(ROOM), Frame({"action": "message"}), (ConnectionId("x"),))
        fake_notifier.mark_failing(ConnectionId("x"), FailureKind.TIMEOUT)
        with pytest.raises(ShardUndelivered):
            service.deliver(shard)

    def test_a_ledger_that_cannot_be_read_or_written_costs_a_duplicate_never_a_loss(
        self, sharded, queue
    ):
        class Broken:
            def is_done(self, work_id):
                raise TimeoutError("ledger down")

            def mark_done(self, work_id):
                raise TimeoutError("ledger down")

        room = members(sharded, 4)
        sharded.service.sharding = Sharding(queue, Broken(), SHARD_SIZE)
        sharded.send(room[0], ROOM, "still delivered")
        drain(sharded, queue)
        assert messages(sharded, room[-1]) == ["still delivered"]
