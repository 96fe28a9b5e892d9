"""The template's SQS queues and event source mappings, run by `roomcast serve`.

With every function of the template in the gateway's process (roomcast's own template), a
queue is a `LocalQueue` here: SQS's semantics that a worker relies on, in memory. A
message waits out its `DelaySeconds`; a received one is invisible for the queue's
visibility timeout and comes back unless deleted; past the redrive policy's
`maxReceiveCount` receives it moves to the dead-letter queue instead (logged). Producers in
this process reach it through `LocalSqsClient`, the subset of boto3's SQS client that
roomcast's `SqsFanoutQueue` calls, so the adapter a deployment runs is the one that runs
here. With functions in processes of their own (`isolation.py`) the queues are created on
an SQS endpoint (the embedded moto server, `local_aws.py`) and `SqsSource` polls it.

Either way a `Poller` per mapping runs its `MaximumConcurrency` worker threads: each
receives up to `BatchSize` records, builds the event Lambda's SQS poller sends, invokes the
function through the invoker's `call` (the same Lambda context and failure reporting as a
route's invocation), and deletes what succeeded: every record, or, with
`ReportBatchItemFailures`, all but the `batchItemFailures` it names. A failed invocation
deletes nothing; its records come back after the visibility timeout.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from roomcast.entrypoints.gateway.event_sources import MappingDefinition, QueueDefinition

log = logging.getLogger("roomcast.gateway")

POLL_SECONDS = 1.0  # the longest a worker waits for a message before looking again
MAX_DELAY_SECONDS = 900  # SQS's


@dataclass
class QueuedMessage:
    message_id: str
    body: str
    sent_at: float  # wall-clock seconds, for SentTimestamp
    visible_at: float  # the queue's clock
    receive_count: int = 0
    first_received_at: float | None = None
    receipt_handle: str = ""


@dataclass(frozen=True)
class Received:
    """One received message, as Lambda's SQS poller passes it on."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str]


@dataclass
class QueueCounts:
    sent: int = 0
    received: int = 0
    deleted: int = 0
    dead_lettered: int = 0


class LocalQueue:
    """One SQS standard queue in memory; thread-safe. `clock` is monotonic seconds."""

    def __init__(
        self,
        definition: QueueDefinition,
        url: str,
        arn: str,
        clock: Callable[[], float] = time.monotonic,
        dead_letter: LocalQueue | None = None,
    ) -> None:
        self.definition, self.url, self.arn = definition, url, arn
        self._clock = clock
        self._dead_letter = dead_letter
        self._messages: dict[str, QueuedMessage] = {}  # in the order sent
        self._changed = threading.Condition()
        self.counts = QueueCounts()
        self._handles = itertools.count(1)

    @property
    def name(self) -> str:
        return self.definition.name

    def send(self, body: str, delay_seconds: int | None = None) -> str:
        delay = self.definition.delay_seconds if delay_seconds is None else delay_seconds
        if not 0 <= delay <= MAX_DELAY_SECONDS:
            raise ValueError(f"DelaySeconds {delay} is not within 0 to {MAX_DELAY_SECONDS}")
        message = QueuedMessage(uuid.uuid4().hex, body, time.time(), self._clock() + delay)
        self._put(message)
        return message.message_id

    def _put(self, message: QueuedMessage) -> None:
        with self._changed:
            self._messages[message.message_id] = message
            self.counts.sent += 1
            self._changed.notify_all()

    def receive(self, max_messages: int, wait_seconds: float = 0.0) -> list[Received]:
        """Up to `max_messages` visible messages, waiting up to `wait_seconds` for one."""
        deadline = self._clock() + wait_seconds
        with self._changed:
            while True:
                taken = self._take_visible(max_messages)
                if taken or self._clock() >= deadline:
                    return taken
                self._changed.wait(min(deadline - self._clock(), self._next_visible()))

    def _next_visible(self) -> float:
        """Seconds until the next hidden message shows (a wait's upper bound)."""
        now = self._clock()
        later = [m.visible_at - now for m in self._messages.values() if m.visible_at > now]
        return max(0.001, min(later, default=POLL_SECONDS))

    def _take_visible(self, max_messages: int) -> list[Received]:
        now = self._clock()
        taken: list[Received] = []
        for message in list(self._messages.values()):
            if len(taken) >= max_messages:
                break
            if message.visible_at > now:
                continue
            limit = self.definition.max_receive_count
            dead_letter = self._dead_letter is not None and limit is not None
            if dead_letter and message.receive_count >= (limit or 0):
                self._move_to_dead_letter(message)
                continue
            message.receive_count += 1
            message.first_received_at = message.first_received_at or time.time()
            message.visible_at = now + self.definition.visibility_timeout
            message.receipt_handle = f"{message.message_id}:{next(self._handles)}"
            self.counts.received += 1
            taken.append(Received(
                message.message_id, message.receipt_handle, message.body,
                _attributes(message),
            ))
        return taken

    def _move_to_dead_letter(self, message: QueuedMessage) -> None:
        assert self._dead_letter is not None
        del self._messages[message.message_id]
        self.counts.dead_lettered += 1
        log.warning("queue %s: message %s was received %d times: moved to %s",
                    self.name, message.message_id, message.receive_count, self._dead_letter.name)
        moved = QueuedMessage(message.message_id, message.body, message.sent_at, self._clock(),
                              message.receive_count, message.first_received_at)
        self._dead_letter._put(moved)

    def delete(self, receipt_handles: Sequence[str]) -> None:
        """Delete the messages these receipts name (a stale receipt deletes nothing, as a
        message received again since has a new one)."""
        with self._changed:
            for handle in receipt_handles:
                message_id = handle.split(":", 1)[0]
                message = self._messages.get(message_id)
                if message is not None and message.receipt_handle == handle:
                    del self._messages[message_id]
                    self.counts.deleted += 1

    def describe(self) -> dict[str, Any]:
        with self._changed:
            now = self._clock()
            in_flight = sum(m.receive_count > 0 and m.visible_at > now
                            for m in self._messages.values())
            delayed = sum(m.receive_count == 0 and m.visible_at > now
                          for m in self._messages.values())
            return {
                "name": self.name, "url": self.url, "arn": self.arn,
                "visible": len(self._messages) - in_flight - delayed, "inFlight": in_flight,
                "delayed": delayed, "sent": self.counts.sent, "received": self.counts.received,
                "deleted": self.counts.deleted, "deadLettered": self.counts.dead_lettered,
                "deadLetterQueue": self._dead_letter.name if self._dead_letter else None,
            }


def _attributes(message: QueuedMessage) -> dict[str, str]:
    return {
        "ApproximateReceiveCount": str(message.receive_count),
        "SentTimestamp": str(int(message.sent_at * 1000)),
        "SenderId": "AIDAROOMCASTSERVE",
        "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or 0) * 1000)),
    }


class LocalSqsClient:
    """What roomcast's `SqsFanoutQueue` calls of boto3's SQS client, on the local queues."""

    def __init__(self, queues: Mapping[str, LocalQueue]) -> None:
        self._queues = queues  # by URL

    def send_message_batch(self, QueueUrl: str, Entries: Sequence[Mapping[str, Any]]) -> Any:
        queue = self._queues[QueueUrl]
        successful = []
        for entry in Entries:
            delay = entry.get("DelaySeconds")
            body = str(entry["MessageBody"])
            message_id = queue.send(body, None if delay is None else int(delay))
            successful.append({"Id": entry["Id"], "MessageId": message_id})
        return {"Successful": successful, "Failed": []}


class QueueSource(Protocol):
    """Where a poller takes records from: a local queue, or an SQS endpoint's queue."""

    @property
    def arn(self) -> str: ...

    @property
    def name(self) -> str: ...

    def receive(self, max_messages: int, wait_seconds: float = 0.0) -> list[Received]: ...

    def delete(self, receipt_handles: Sequence[str]) -> None: ...


class SqsSource:
    """A queue on an SQS endpoint (moto's), through boto3: at most 10 records a receive."""

    def __init__(self, client: Any, url: str, arn: str, name: str) -> None:
        self._client, self.url, self.arn, self.name = client, url, arn, name

    def receive(self, max_messages: int, wait_seconds: float = 0.0) -> list[Received]:
        answer = self._client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=int(wait_seconds), AttributeNames=["All"],
        )
        return [
            Received(m["MessageId"], m["ReceiptHandle"], m["Body"], m.get("Attributes", {}))
            for m in answer.get("Messages", [])
        ]

    def delete(self, receipt_handles: Sequence[str]) -> None:
        for start in range(0, len(receipt_handles), 10):
            entries = [{"Id": str(n), "ReceiptHandle": handle}
                       for n, handle in enumerate(receipt_handles[start:start + 10])]
            self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)


def sqs_event(records: Sequence[Received], source: QueueSource, region: str) -> dict[str, Any]:
    """The event Lambda's SQS poller invokes a function with."""
    return {"Records": [
        {
            "messageId": record.message_id,
            "receiptHandle": record.receipt_handle,
            "body": record.body,
            "attributes": dict(record.attributes),
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(record.body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.arn,
            "awsRegion": region,
        }
        for record in records
    ]}


# (function logical id, handler, event, request id, timeout seconds) -> the handler's result
Call = Callable[[str, Callable[[Any, Any], Any], Any, str, float], Any]


@dataclass
class PollerCounts:
    invocations: int = 0
    records: int = 0
    failed_records: int = 0
    failed_invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Poller:
    """One event source mapping: its workers take batches from the queue to the function."""

    def __init__(
        self,
        mapping: MappingDefinition,
        source: QueueSource,
        handler: Callable[[Any, Any], Any],
        call: Call,
        *,
        timeout_seconds: float,
        region: str,
    ) -> None:
        self.mapping, self.source = mapping, source
        self._handler, self._call = handler, call
        self._timeout, self._region = timeout_seconds, region
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.counts = PollerCounts()

    def start(self) -> None:
        if not self.mapping.enabled:
            return
        for number in range(self.mapping.concurrency):
            thread = threading.Thread(
                target=self._work, name=f"{self.mapping.logical_id}-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def signal_stop(self) -> None:
        """Ask the workers to stop after the batch each is on."""
        self._stopping.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.signal_stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                records = self.source.receive(self.mapping.batch_size, POLL_SECONDS)
            except Exception:
                log.exception("%s: could not receive from %s", self.mapping.logical_id,
                              self.source.name)
                self._stopping.wait(POLL_SECONDS)
                continue
            if records:
                self.poll_once(records)

    def poll_once(self, records: Sequence[Received]) -> None:
        """Invoke the function with `records` and delete those it did not fail."""
        mapping = self.mapping
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        failed: set[str] | None
        try:
            result = self._call(mapping.function, self._handler,
                                sqs_event(records, self.source, self._region), request_id,
                                self._timeout)
        except Exception:  # the invoker has logged it
            failed = None
        else:
            failed = self._failures(result, records)
        keep = {r.message_id for r in records} if failed is None else failed
        done = [r.receipt_handle for r in records if r.message_id not in keep]
        if done:
            try:
                self.source.delete(done)
            except Exception:
                log.exception("%s: could not delete %d record(s)", mapping.logical_id, len(done))
        with self.counts.lock:
            self.counts.invocations += 1
            self.counts.records += len(records)
            self.counts.failed_records += len(keep)
            self.counts.failed_invocations += failed is None
        log.info(
            "%s (%s <- %s): %d record(s), %s in %.0f ms", mapping.function, mapping.logical_id,
            self.source.name, len(records),
            "invocation failed" if failed is None else f"{len(failed)} failed",
            (time.monotonic() - started) * 1000,
        )

    def _failures(self, result: Any, records: Sequence[Received]) -> set[str] | None:
        """The records to leave for redelivery; None for all of them (the batch failed)."""
        if not self.mapping.report_batch_item_failures:
            return set()
        items = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not items:
            return set()
        ids = {r.message_id for r in records}
        named = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in items]
        if any(not isinstance(n, str) or n not in ids for n in named):
            # Lambda takes a response it cannot read as the whole batch failed.
            log.error("%s: batchItemFailures names no record of the batch: %r",
                      self.mapping.logical_id, items)
            return None
        return {str(n) for n in named}

    def describe(self) -> dict[str, Any]:
        counts = self.counts
        with counts.lock:
            return {
                "mapping": self.mapping.logical_id, "function": self.mapping.function,
                "queue": self.source.name, "batchSize": self.mapping.batch_size,
                "maximumConcurrency": self.mapping.concurrency,
                "reportBatchItemFailures": self.mapping.report_batch_item_failures,
                "enabled": self.mapping.enabled,
                "invocations": counts.invocations, "records": counts.records,
                "failedRecords": counts.failed_records,
                "failedInvocations": counts.failed_invocations,
            }


@dataclass
class EventSources:
    """The template's queues (local ones, or those on an SQS endpoint) and their pollers."""

    where: str  # "in-process", or the SQS endpoint's URL
    definitions: dict[str, QueueDefinition]  # by logical id
    urls: dict[str, str]  # by logical id
    local: dict[str, LocalQueue] = field(default_factory=dict)  # by logical id
    pollers: list[Poller] = field(default_factory=list)
    sqs: Any = None  # the boto3 client on the SQS endpoint

    def client(self) -> LocalSqsClient:
        return LocalSqsClient({queue.url: queue for queue in self.local.values()})

    def is_local_url(self, url: str) -> bool:
        return any(queue.url == url for queue in self.local.values())

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        for poller in self.pollers:  # all asked first, so that their waits overlap
            poller.signal_stop()
        for poller in self.pollers:
            poller.stop()

    def lines(self) -> list[str]:
        """For the banner: each mapping, and each queue no mapping reads."""
        shown = []
        read = set()
        for poller in self.pollers:
            mapping = poller.mapping
            read.add(mapping.queue)
            queue = self.definitions[mapping.queue]
            dead = (f", dead letters to {queue.dead_letter} after {queue.max_receive_count}"
                    if queue.dead_letter else "")
            failures = ", ReportBatchItemFailures" if mapping.report_batch_item_failures else ""
            disabled = " (disabled)" if not mapping.enabled else ""
            shown.append(
                f"{mapping.queue} -> {mapping.function}{disabled} ({self.where} queue, batch "
                f"{mapping.batch_size}, up to {mapping.concurrency} at once{failures}, "
                f"visibility {queue.visibility_timeout:g}s{dead})"
            )
        dead_letters = {d.dead_letter for d in self.definitions.values() if d.dead_letter}
        for logical_id in self.definitions:
            if logical_id not in read and logical_id not in dead_letters:
                shown.append(f"{logical_id} ({self.where} queue, read by no mapping)")
        return shown

    def describe(self) -> dict[str, Any]:
        queues: list[dict[str, Any]] = []
        for logical_id, definition in self.definitions.items():
            if logical_id in self.local:
                queues.append({"logicalId": logical_id, **self.local[logical_id].describe()})
            else:
                queues.append({"logicalId": logical_id, "name": definition.name,
                               "url": self.urls[logical_id], **self._remote(logical_id)})
        return {"queues": queues, "mappings": [poller.describe() for poller in self.pollers]}

    def _remote(self, logical_id: str) -> dict[str, Any]:
        try:
            answer = self.sqs.get_queue_attributes(
                QueueUrl=self.urls[logical_id], AttributeNames=["All"]
            )["Attributes"]
        except Exception as error:  # the status page shows what it can
            return {"error": str(error)}
        return {
            "visible": int(answer.get("ApproximateNumberOfMessages", 0)),
            "inFlight": int(answer.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(answer.get("ApproximateNumberOfMessagesDelayed", 0)),
        }


def local_event_sources(
    definitions: Sequence[QueueDefinition],
    mappings: Sequence[MappingDefinition],
    urls: Mapping[str, str],
    arns: Mapping[str, str],
    pollers: Callable[[MappingDefinition, QueueSource], Poller],
) -> EventSources:
    """Every queue in memory (dead-letter queues first: the others move messages there)."""
    by_id = {d.logical_id: d for d in definitions}
    sources = EventSources("in-process", by_id, dict(urls))

    def made(logical_id: str, seen: tuple[str, ...] = ()) -> LocalQueue:
        if logical_id not in sources.local:
            definition = by_id[logical_id]
            dead = None
            if definition.dead_letter and definition.dead_letter not in seen:
                dead = made(definition.dead_letter, (*seen, logical_id))
            sources.local[logical_id] = LocalQueue(
                definition, urls[logical_id], arns[logical_id], dead_letter=dead
            )
        return sources.local[logical_id]

    for definition in definitions:
        made(definition.logical_id)
    sources.local = {d.logical_id: sources.local[d.logical_id] for d in definitions}
    sources.pollers = [pollers(mapping, made(mapping.queue)) for mapping in mappings]
    return sources


def sqs_event_sources(
    client: Any,
    endpoint: str,
    definitions: Sequence[QueueDefinition],
    mappings: Sequence[MappingDefinition],
    arns: Mapping[str, str],
    pollers: Callable[[MappingDefinition, QueueSource], Poller],
) -> EventSources:
    """Every queue created on the SQS endpoint (dead-letter queues first), and pollers."""
    by_id = {d.logical_id: d for d in definitions}
    ordered = sorted(definitions, key=lambda d: d.dead_letter is not None)
    urls: dict[str, str] = {}
    for definition in ordered:
        attributes = {
            "VisibilityTimeout": str(int(definition.visibility_timeout)),
            "DelaySeconds": str(definition.delay_seconds),
        }
        if definition.fifo:
            attributes["FifoQueue"] = "true"
        if definition.dead_letter:
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": arns[definition.dead_letter],
                "maxReceiveCount": str(definition.max_receive_count),
            })
        urls[definition.logical_id] = client.create_queue(
            QueueName=definition.name, Attributes=attributes
        )["QueueUrl"]
    sources = EventSources(endpoint, by_id, urls, sqs=client)
    sources.pollers = [
        pollers(m, SqsSource(client, urls[m.queue], arns[m.queue], by_id[m.queue].name))
        for m in mappings
    ]
    return sources
