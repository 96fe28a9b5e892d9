"""Sharded fan-out: a broadcast too big for one invocation, cut into work items.

A room with more members than the shard size is delivered in shards: the invocation that
broadcasts posts the first shard itself and queues the rest, each a `Shard` that carries the
frame once and names its recipients. A worker delivers a shard with `ChatService.deliver`.

The account's PostToConnection budget (posts per second, shared with every other API
Gateway API in the account and region) is divided among a fixed number of workers, so that
roomcast's own fan-out never throttles the rest: `workers_for` and `rate_per_worker` are the
one rule for that division, read by the settings and mirrored in the template's mapping.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from attrs import evolve, field, frozen

from roomcast.domain.errors import DomainError, FailureKind
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId, RoomId

DEFAULT_SHARD_SIZE = 2_000
DEFAULT_CALLBACK_BUDGET = 5_000
# One worker posts about 2,500/s at 50 in flight and 20 ms a post; a budget of 1,000/s per
# worker keeps each well under what it could do, so a slow minute does not eat the budget.
POSTS_PER_WORKER = 1_000
MIN_WORKERS = 2  # the least MaximumConcurrency an SQS event source mapping takes
# Queued attempts of one shard's recipients whose post failed for a reason that may pass
# (429 after the notifier's own retries, 5xx, a timeout): then the worker gives up and the
# queue's redrive policy takes it to the dead-letter queue.
MAX_SHARD_ATTEMPTS = 5
# Failures that may pass: the notifier's own retries are spent, a later attempt may not be.
TRANSIENT = frozenset({
    FailureKind.RATE_LIMITED, FailureKind.SERVER_ERROR, FailureKind.TIMEOUT,
    FailureKind.UNREACHABLE,
})
WORK_FORMAT = 1


class MalformedShard(ValueError):
    """A queued body that is not a work item this version of roomcast wrote."""


def workers_for(budget: int) -> int:
    """How many deliver workers share a callback budget of `budget` posts per second."""
    return max(MIN_WORKERS, math.ceil(budget / POSTS_PER_WORKER))


def rate_per_worker(budget: int) -> float:
    """Posts per second one deliver worker may make so that all of them stay in `budget`."""
    return budget / workers_for(budget)


def retry_delay_seconds(attempt: int) -> int:
    """How long a shard's failed recipients wait before their next attempt (SQS's delay)."""
    return min(900, 2 << attempt)


def new_work_id() -> str:
    return uuid.uuid4().hex


def _connection_ids(ids: Iterable[ConnectionId]) -> tuple[ConnectionId, ...]:
    return tuple(ids)


@frozen
class Shard:
    """One work item: `frame` for each of `recipients`, all members of `room_id`.

    `work_id` names the item for as long as it exists, redeliveries included, so a worker
    that finds it already done does nothing. `attempt` counts the queued retries of
    recipients whose post failed."""

    work_id: str
    room_id: RoomId
    frame: Frame
    recipients: tuple[ConnectionId, ...] = field(converter=_connection_ids)
    attempt: int = 0

    def retry(self, recipients: Sequence[ConnectionId]) -> Shard:
        """The next attempt for `recipients`, under a work id of its own."""
        return evolve(
            self, work_id=f"{self.work_id}.{self.attempt + 1}", recipients=tuple(recipients),
            attempt=self.attempt + 1,
        )

    def halves(self) -> tuple[Shard, Shard]:
        """The same work in two items, for a body over the queue's size limit."""
        middle = len(self.recipients) // 2
        first, second = self.recipients[:middle], self.recipients[middle:]
        return (evolve(self, work_id=f"{self.work_id}a", recipients=first),
                evolve(self, work_id=f"{self.work_id}b", recipients=second))

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": WORK_FORMAT,
                "workId": self.work_id,
                "roomId": self.room_id.value,
                "frame": dict(self.frame.fields),
                "to": [c.value for c in self.recipients],
                "attempt": self.attempt,
            },
            ensure_ascii=False, separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, body: str) -> Shard:
        try:
            item = json.loads(body)
            if not isinstance(item, dict) or item.get("format") != WORK_FORMAT:
                raise MalformedShard(f"not a work item of format {WORK_FORMAT}")
            return cls(
                work_id=_text(item["workId"]),
                room_id=RoomId(_text(item["roomId"])),
                frame=Frame(_fields(item["frame"])),
                recipients=tuple(ConnectionId(_text(c)) for c in _list(item["to"])),
                attempt=_count(item["attempt"]),
            )
        except MalformedShard:
            raise
        except (ValueError, KeyError, TypeError, DomainError) as problem:
            raise MalformedShard(f"malformed work item: {problem!r}") from None


def plan(
    room_id: RoomId,
    recipients: Sequence[ConnectionId],
    frame: Frame,
    shard_size: int,
    new_id: Callable[[], str] = new_work_id,
) -> tuple[Sequence[ConnectionId], list[Shard]]:
    """The recipients to post to at once (the first `shard_size`) and the shards for the
    rest, each of at most `shard_size`."""
    first, rest = recipients[:shard_size], recipients[shard_size:]
    if not rest:
        return first, []
    broadcast = new_id()
    shards = [
        Shard(f"{broadcast}-{number}", room_id, frame, rest[start:start + shard_size])
        for number, start in enumerate(range(0, len(rest), shard_size), start=1)
    ]
    return first, shards


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedShard(f"expected a non-empty string, got {value!r}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise MalformedShard("a work item names at least one recipient")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedShard(f"attempt must be a whole number, got {value!r}")
    return value


def _fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("action"), str):
        raise MalformedShard("a work item's frame is an object with an action")
    return value
