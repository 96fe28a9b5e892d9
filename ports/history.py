"""RoomLog: each room's message sequence, and the messages it retains for replay."""

from __future__ import annotations

from typing import Protocol

from roomcast.domain.history import Replay
from roomcast.domain.model import Message, RoomId


class RoomLog(Protocol):
    """Per room, a seq that starts at 1 and grows by exactly 1 with each message, shared by
    every process that uses the same log; and the latest messages, kept by its Retention.

    `epoch` names the numbering: two logs share it only if they count the same messages
    (processes on one table do; an in-memory log that restarted does not)."""

    @property
    def epoch(self) -> str: ...

    def append(
        self, message: Message, after: int, members_version: int | None = None
    ) -> Message:
        """Give `message` the room's next seq, retain it, and return it with that seq.

        `after` is the room's latest seq as the caller last read it: a log that allocates by
        compare-and-set starts from it, and every log returns the right seq whatever it is.
        `members_version` is the `Room.version` the caller's member list was read at: a log
        that shares its record with the membership refuses with MembershipChanged when it
        moved, so that no member who joined before the message's seq was allocated is left
        out of its delivery. A write retried after its commit was answered with an error is
        not appended twice.
        """
        ...

    def replay(self, room_id: RoomId, since: int, until: int) -> Replay:
        """The retained messages with `since < seq <= until`, in seq order, as
        `domain.history.replay_of` cuts them."""
        ...

    def latest(self, room_id: RoomId) -> int:
        """The seq of the room's latest message, 0 before the first."""
        ...
