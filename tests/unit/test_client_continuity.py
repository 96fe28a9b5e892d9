"""The clients' ordering: each message once, in seq order, holes filled through `since` or told."""

from __future__ import annotations

from roomcast_client.continuity import (
    FILL_TIMEOUT_SECONDS,
    HOLD_SECONDS,
    MAX_FILL_ATTEMPTS,
    Fill,
    Gap,
    RoomTracker,
)

ROOM = "lobby"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def message(seq: int) -> dict:
    return {"action": "message", "roomId": ROOM, "message": f"m{seq}", "seq": seq}


def joined(seq: int, epoch: str = "e1", **replay: object) -> dict:
    return {"action": "joinedRoom", "roomId": ROOM, "seq": seq, "epoch": epoch, **replay}


def seqs(frames) -> list[int]:
    return [f["seq"] for f in frames if f["action"] == "message"]


def tracker_at(seq: int, clock: Clock | None = None) -> RoomTracker:
    tracker = RoomTracker(clock or Clock())
    tracker.joining(ROOM)
    tracker.joined(joined(seq))
    return tracker


class TestInOrder:
    def test_consecutive_messages_pass_straight_through(self):
        tracker = tracker_at(3)
        assert [seqs(tracker.message(message(s)).deliver) for s in (4, 5)] == [[4], [5]]

    def test_a_duplicate_is_dropped(self):
        tracker = tracker_at(3)
        tracker.message(message(4))
        assert tracker.message(message(4)).deliver == ()
        assert tracker.message(message(2)).deliver == ()

    def test_messages_before_joined_room_wait_for_it_and_older_ones_are_dropped(self):
        tracker = RoomTracker(Clock())
        tracker.joining(ROOM)
        assert tracker.message(message(5)).deliver == ()
        assert tracker.message(message(7)).deliver == ()
        outcome = tracker.joined(joined(6))
        assert [f["action"] for f in outcome.deliver] == ["joinedRoom", "message"]
        assert seqs(outcome.deliver) == [7]

    def test_a_room_not_joined_through_the_tracker_passes_everything(self):
        tracker = RoomTracker(Clock())
        frame = {**message(9), "roomId": "elsewhere"}
        assert tracker.message(frame).deliver == (frame,)


def holding(tracker: RoomTracker, clock: Clock, seq: int) -> Fill:
    """A message past a hole, held until HOLD_SECONDS have passed; then the fill it asks."""
    outcome = tracker.message(message(seq))
    assert (outcome.deliver, outcome.fill, outcome.tick_after) == ((), None, HOLD_SECONDS)
    clock.now += HOLD_SECONDS
    [asked] = tracker.tick()
    assert asked.fill is not None
    return asked.fill


class TestHoles:
    def test_a_seq_that_overtook_an_earlier_one_waits_for_it_without_a_fill(self):
        clock = Clock()
        tracker = tracker_at(3, clock)
        assert tracker.message(message(5)).deliver == ()
        clock.now += HOLD_SECONDS / 2
        assert seqs(tracker.message(message(4)).deliver) == [4, 5]
        clock.now += HOLD_SECONDS
        assert tracker.tick() == []

    def test_a_hole_that_lasts_asks_since_the_last_delivered(self):
        clock = Clock()
        assert holding(tracker_at(3, clock), clock, 6) == Fill(ROOM, 3, "e1")

    def test_the_replay_fills_the_hole_and_releases_what_was_held(self):
        clock = Clock()
        tracker = tracker_at(3, clock)
        holding(tracker, clock, 6)
        answer = tracker.joined(joined(6, recovered=True, replayed=3))
        assert (answer.deliver, answer.fill) == ((), None)  # the client's own, not the app's
        assert seqs(tracker.message(message(4)).deliver) == [4]
        assert seqs(tracker.message(message(5)).deliver) == [5, 6]
        assert seqs(tracker.message(message(6)).deliver) == []  # the replay's copy

    def test_only_one_fill_is_asked_while_one_is_under_way(self):
        clock = Clock()
        tracker = tracker_at(3, clock)
        holding(tracker, clock, 6)
        assert tracker.message(message(7)).fill is None
        clock.now += HOLD_SECONDS
        assert tracker.tick() == []

    def test_an_unrecovered_replay_reports_the_hole_and_goes_on_after_it(self):
        tracker = tracker_at(3)
        tracker.message(message(9))
        outcome = tracker.joined(joined(9, recovered=False, replayed=2))
        assert outcome.gaps == (Gap(ROOM, 4, 7),)
        assert seqs(tracker.message(message(8)).deliver) == [8, 9]

    def test_an_unrecovered_replay_still_hands_on_what_was_held_inside_the_hole(self):
        tracker = tracker_at(3)
        tracker.message(message(5))
        outcome = tracker.joined(joined(9, recovered=False, replayed=1))
        assert outcome.gaps == (Gap(ROOM, 4, 4), Gap(ROOM, 6, 8))
        assert seqs(outcome.deliver) == [5]
        assert seqs(tracker.message(message(9)).deliver) == [9]


class TestAFillThatNeverComes:
    def test_it_is_asked_again_after_the_timeout_then_given_up_and_told(self):
        clock = Clock()
        tracker = tracker_at(3, clock)
        holding(tracker, clock, 6)
        for _ in range(MAX_FILL_ATTEMPTS - 1):
            assert tracker.tick() == []
            clock.now += FILL_TIMEOUT_SECONDS
            [again] = tracker.tick()
            assert again.fill == Fill(ROOM, 3, "e1")
        clock.now += FILL_TIMEOUT_SECONDS
        [given_up] = tracker.tick()
        assert given_up.gaps == (Gap(ROOM, 4, 5),)
        assert seqs(given_up.deliver) == [6]
        assert tracker.tick() == []


class TestResume:
    def test_a_reconnect_rejoins_since_the_last_delivered_and_gets_the_rest(self):
        tracker = tracker_at(3)
        tracker.message(message(4))
        resume = tracker.resume(ROOM)
        assert resume.as_frame() == {
            "action": "joinRoom", "roomId": ROOM, "since": 4, "epoch": "e1"
        }
        outcome = tracker.joined(joined(6, recovered=True, replayed=2))
        assert outcome.gaps == ()
        assert seqs(tracker.message(message(5)).deliver) == [5]
        assert seqs(tracker.message(message(6)).deliver) == [6]
        assert tracker.tick() == []

    def test_a_room_left_is_not_rejoined(self):
        tracker = tracker_at(3)
        tracker.left(ROOM)
        assert tracker.rooms == []


class TestALogThatRestarted:
    def test_a_new_epoch_drops_the_old_numbering_and_reports_what_cannot_be_counted(self):
        tracker = tracker_at(3)
        tracker.message(message(6))  # held behind a hole, in the old numbering
        tracker.resume(ROOM)
        outcome = tracker.joined(joined(1, epoch="e2", recovered=False, replayed=1))
        assert outcome.gaps == (Gap(ROOM, 4, None),)
        assert seqs(outcome.deliver) == []
        assert seqs(tracker.message(message(1)).deliver) == [1]
        assert seqs(tracker.message(message(2)).deliver) == [2]
