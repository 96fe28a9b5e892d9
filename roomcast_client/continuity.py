"""Per-room ordering for a client: each message once and in seq order, gaps filled or told.

Pure bookkeeping, no I/O: `RoomTracker` is told what arrived and answers what to hand the
application and which `joinRoom ... since` to send. The asyncio client drives it; the
browser client (entrypoints/gateway/static/roomcast-client.js) does the same in JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Frame = dict[str, Any]
# Messages of one room are posted by whichever invocation sent them, so a later seq can
# overtake an earlier one still in flight: a hole is only asked for once it has lasted this.
HOLD_SECONDS = 0.5
# A requested fill whose replay has not arrived by then is asked again, at most this often
# for one hole before the client gives the hole up as lost.
FILL_TIMEOUT_SECONDS = 5.0
MAX_FILL_ATTEMPTS = 3


@dataclass(frozen=True)
class Gap:
    """Messages `first` to `last` of `room_id` will never be delivered; `last` is None when
    the room's log restarted its numbering (a local gateway's in-memory one), so that what
    was missed cannot be counted."""

    room_id: str
    first: int
    last: int | None


@dataclass(frozen=True)
class Fill:
    """Ask the server for `room_id`'s messages after `since`, as counted by `epoch`."""

    room_id: str
    since: int
    epoch: str | None = None

    def as_frame(self) -> Frame:
        frame: Frame = {"action": "joinRoom", "roomId": self.room_id, "since": self.since}
        if self.epoch is not None:
            frame["epoch"] = self.epoch
        return frame


@dataclass(frozen=True)
class Outcome:
    """What one arrival means: frames for the application, in order, gaps to report, and a
    fill to ask the server for."""

    deliver: tuple[Frame, ...] = ()
    gaps: tuple[Gap, ...] = ()
    fill: Fill | None = None
    tick_after: float | None = None  # call `tick()` again after this many seconds


@dataclass
class _Room:
    last: int | None = None  # the last seq handed to the application
    epoch: str | None = None  # the log that counted it
    pending: dict[int, Frame] = field(default_factory=dict)
    fill_target: int | None = None  # the seq the answered fill's replay ends at
    fill_asked_at: float | None = None
    fill_attempts: int = 0
    filling: bool = False  # the next answer is to a fill, not the application's join
    hole_seen_at: float | None = None


class RoomTracker:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._rooms: dict[str, _Room] = {}

    @property
    def rooms(self) -> list[str]:
        return list(self._rooms)

    def joining(self, room_id: str) -> None:
        self._rooms.setdefault(room_id, _Room())

    def left(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)

    def resume(self, room_id: str) -> Fill:
        """The join to send after a reconnect, and the fill it starts."""
        room = self._rooms[room_id]
        self._asked(room)
        return Fill(room_id, room.last or 0, room.epoch)

    def joined(self, frame: Frame) -> Outcome:
        room = self._rooms.get(str(frame.get("roomId")))
        seq = frame.get("seq")
        if room is None or not isinstance(seq, int):
            return Outcome(deliver=(frame,))
        gaps: tuple[Gap, ...] = ()
        # The answer to the client's own fill is bookkeeping, not news for the application.
        ready = [] if room.filling and "recovered" in frame else [frame]
        room.filling = False
        epoch = frame.get("epoch")
        if room.epoch is not None and epoch != room.epoch and room.last is not None:
            gaps = self._restarted(frame["roomId"], room)
        room.epoch = epoch if isinstance(epoch, str) else None
        if "recovered" in frame:
            start = seq - int(frame.get("replayed") or 0)
            room.fill_target = seq
            if room.last is None:
                room.last = start
            elif start > room.last and not frame.get("recovered"):
                skipped, held = self._skip(frame["roomId"], room, start)
                gaps, ready = gaps + skipped, ready + held
        elif room.last is None:
            room.last = seq
        return self._flush(frame["roomId"], room, tuple(ready), gaps)

    def message(self, frame: Frame) -> Outcome:
        room = self._rooms.get(str(frame.get("roomId")))
        seq = frame.get("seq")
        if room is None or not isinstance(seq, int):
            return Outcome(deliver=(frame,))
        if (room.last is not None and seq <= room.last) or seq in room.pending:
            return Outcome()  # a live frame and its replay both arrived
        room.pending[seq] = frame
        if room.last is None:
            return Outcome()  # before this room's joinedRoom: held until it says where we are
        return self._flush(frame["roomId"], room)

    def _flush(
        self, room_id: str, room: _Room, first: tuple[Frame, ...] = (), gaps: tuple[Gap, ...] = ()
    ) -> Outcome:
        assert room.last is not None
        for seq in [s for s in room.pending if s <= room.last]:
            del room.pending[seq]
        ready = list(first)
        while room.last + 1 in room.pending:
            room.last += 1
            ready.append(room.pending.pop(room.last))
        if room.fill_target is not None and room.last >= room.fill_target:
            room.fill_target = room.fill_asked_at = None
            room.fill_attempts = 0
        if not room.pending:
            room.hole_seen_at = None
            return Outcome(tuple(ready), gaps)
        if room.hole_seen_at is None:
            room.hole_seen_at = self._clock()
        return Outcome(tuple(ready), gaps, tick_after=HOLD_SECONDS)

    def tick(self) -> list[Outcome]:
        """A hole that lasted HOLD_SECONDS: asked for. A fill whose replay has not come in
        FILL_TIMEOUT_SECONDS: asked again, or after MAX_FILL_ATTEMPTS given up, its hole
        reported and what was held behind it handed on. Call it when an Outcome says, and
        now and then (the client does on every frame, pongs included)."""
        outcomes = []
        now = self._clock()
        for room_id, room in self._rooms.items():
            if not room.pending or room.last is None:
                continue
            if room.fill_asked_at is None:
                if room.hole_seen_at is not None and now - room.hole_seen_at >= HOLD_SECONDS:
                    self._asked(room, filling=True)
                    fill = Fill(room_id, room.last, room.epoch)
                    outcomes.append(Outcome(fill=fill, tick_after=FILL_TIMEOUT_SECONDS))
                continue
            if now - room.fill_asked_at < FILL_TIMEOUT_SECONDS:
                continue
            if room.fill_attempts < MAX_FILL_ATTEMPTS:
                self._asked(room, filling=True)
                fill = Fill(room_id, room.last, room.epoch)
                outcomes.append(Outcome(fill=fill, tick_after=FILL_TIMEOUT_SECONDS))
                continue
            gaps, _ = self._skip(room_id, room, min(room.pending) - 1)
            room.fill_target = room.fill_asked_at = room.hole_seen_at = None
            room.fill_attempts = 0
            room.filling = False
            outcomes.append(self._flush(room_id, room, gaps=gaps))
        return outcomes

    def _asked(self, room: _Room, filling: bool = False) -> None:
        room.fill_asked_at = self._clock()
        room.fill_target = None
        room.fill_attempts += 1
        room.filling = filling

    @staticmethod
    def _restarted(room_id: str, room: _Room) -> tuple[Gap, ...]:
        """The room's log counts anew: nothing held or seen belongs to its numbering."""
        assert room.last is not None
        room.pending.clear()
        gap = Gap(room_id, room.last + 1, None)
        room.last = None
        return (gap,)

    @staticmethod
    def _skip(room_id: str, room: _Room, up_to: int) -> tuple[tuple[Gap, ...], list[Frame]]:
        """Give up waiting for what is missing up to `up_to`: the gaps, and the frames held
        below it, in order, to hand on before anything later."""
        assert room.last is not None
        held = sorted(s for s in room.pending if s <= up_to)
        gaps, expected = [], room.last + 1
        for seq in [*held, up_to + 1]:
            if seq > expected:
                gaps.append(Gap(room_id, expected, seq - 1))
            expected = seq + 1
        room.last = up_to
        return tuple(gaps), [room.pending.pop(seq) for seq in held]
