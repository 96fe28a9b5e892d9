"""A room's retained history: how much is kept, and what a replay after `since` returns."""

from __future__ import annotations

from collections.abc import Iterable

from attrs import field, frozen, validators

from roomcast.domain.model import Message
from roomcast.domain.policies import TWO_HOURS

DEFAULT_HISTORY_MESSAGES = 100
# Each replayed message is one post to the joiner, made one after the other inside the
# join's invocation: the bound keeps a full replay well inside API Gateway's 29 s.
MAX_HISTORY_MESSAGES = 500


@frozen
class Retention:
    """At most `messages` per room, each for at most `seconds`; either 0 keeps nothing."""

    messages: int = field(
        default=DEFAULT_HISTORY_MESSAGES,
        validator=[validators.ge(0), validators.le(MAX_HISTORY_MESSAGES)],
    )
    seconds: int = field(default=TWO_HOURS, validator=validators.ge(0))

    @property
    def keeps_messages(self) -> bool:
        return self.messages > 0 and self.seconds > 0

    def expires_at(self, timestamp_ms: int) -> int:
        """When a message said at `timestamp_ms` stops being replayed, in epoch seconds."""
        return timestamp_ms // 1000 + self.seconds

    def oldest_kept(self, latest: int) -> int:
        """The lowest seq the count limit still keeps when the room is at `latest`."""
        return max(latest - self.messages + 1, 1)


@frozen
class Replay:
    """What a joiner is sent after `since`: messages in seq order, and whether they are all
    of them (`complete`) or the retained end of a longer stretch."""

    messages: tuple[Message, ...] = ()
    complete: bool = True


def replay_of(found: Iterable[Message], since: int, until: int) -> Replay:
    """The unbroken run of `found` that ends at `until` and starts after `since`.

    A replay must never skip a seq it then sends past: a client takes `replayed` frames as
    the end of the stretch, so anything before a hole is left out and the replay marked
    incomplete.
    """
    by_seq = {m.seq: m for m in found if since < m.seq <= until}
    run: list[Message] = []
    seq = until
    while seq in by_seq:
        run.append(by_seq[seq])
        seq -= 1
    return Replay(tuple(reversed(run)), complete=seq == since)
