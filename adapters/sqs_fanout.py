"""FanoutQueue on SQS: shards as messages, sent ten to a SendMessageBatch.

A message body is at most MAX_BODY_BYTES (SQS's long-standing 256 KiB; queues now take up
to 1 MiB, but a limit every queue and every emulator honours is the safe one), and so is a
whole batch. A shard of 2,000 recipients is about 40 KB of ids plus its frame (at most
128 KB): it fits; a bigger one is queued as its halves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from roomcast.domain.fanout import Shard

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 262_144
MAX_BATCH_ENTRIES = 10
SEND_ATTEMPTS = 3


def make_sqs_client(session: Any = None, max_pool_connections: int = 10) -> Any:
    """A low-level SQS client from botocore's session, as the DynamoDB one is made."""
    from botocore.config import Config
    from botocore.session import Session

    config = Config(
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=max_pool_connections,
    )
    return (session or Session()).create_client("sqs", config=config)


class LazyClient:
    """An SQS client built on its first call: every function that may broadcast is given
    the queue, but only a broadcast past the shard size uses it, and a cold start should not
    pay for building a client it will not call."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None
        self._lock = threading.Lock()

    def send_message_batch(self, **request: Any) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._build()
        return self._client.send_message_batch(**request)


class SqsFanoutQueue:
    def __init__(self, client: Any, queue_url: str, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._client = client
        self._queue_url = queue_url
        self._max_body_bytes = max_body_bytes

    def enqueue(self, shards: Sequence[Shard], delay_seconds: int = 0) -> list[Shard]:
        bodies = [(shard, body) for whole in shards for shard, body in self._fitting(whole)]
        unqueued: list[Shard] = []
        for batch in _batches(bodies, self._max_body_bytes):
            unqueued.extend(self._send(batch, delay_seconds))
        return unqueued

    def _fitting(self, shard: Shard) -> Iterator[tuple[Shard, str]]:
        body = shard.to_json()
        if len(body.encode()) <= self._max_body_bytes or len(shard.recipients) < 2:
            yield shard, body
            return
        for half in shard.halves():
            yield from self._fitting(half)

    def _send(self, batch: list[tuple[Shard, str]], delay_seconds: int) -> list[Shard]:
        """Send one batch, and again the entries SQS failed on its own side; return the
        shards not queued (those it refused as the sender's fault are not tried again)."""
        waiting = {str(number): entry for number, entry in enumerate(batch)}
        refused: list[Shard] = []
        for _ in range(SEND_ATTEMPTS):
            entries = [
                {"Id": key, "MessageBody": body, "DelaySeconds": delay_seconds}
                for key, (_, body) in waiting.items()
            ]
            try:
                answer = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except Exception:
                log.exception("could not queue %d shards", len(waiting))
                break
            failed = answer.get("Failed", [])
            for failure in failed:
                log.warning("SQS did not queue work item %s: %s %s",
                            waiting[failure["Id"]][0].work_id, failure.get("Code"),
                            failure.get("Message"))
            refused += [waiting[f["Id"]][0] for f in failed if f.get("SenderFault")]
            waiting = {f["Id"]: waiting[f["Id"]] for f in failed if not f.get("SenderFault")}
            if not waiting:
                break
        return refused + [shard for shard, _ in waiting.values()]


def _batches(
    bodies: list[tuple[Shard, str]], max_bytes: int
) -> Iterator[list[tuple[Shard, str]]]:
    batch: list[tuple[Shard, str]] = []
    size = 0
    for shard, body in bodies:
        length = len(body.encode())
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append((shard, body))
        size += length
    if batch:
        yield batch
