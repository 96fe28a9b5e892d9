"""What retaining history adds to a send: history on against off, same run, same room.

In memory it is the log's own work; on DynamoDB (moto in-process, so the table's speed is
moto's, not DynamoDB's) it is the client-side cost of the request the log adds, and the
requests themselves are counted. The table's side, on paper: the README's request table.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.bench_core import NullNotifier, service_connection
from benchmarks.timing import Ratio, compare
from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.history import Retention
from roomcast.domain.model import ConnectionId, RoomId
from roomcast.domain.service import ChatService

MEMBERS = 10
MEMORY_SENDS = 5_000
DYNAMODB_SENDS = 200
ROOM = RoomId("history")
ON, OFF = Retention(), Retention(messages=0)


def _filled(service: ChatService, clock: FixedClock) -> ChatService:
    for i in range(MEMBERS):
        connection = service_connection(clock, i)
        service.store.add(connection)
        service.store.join(connection, ROOM, clock.now_ms())
        service.store.mark_announced(connection.id, ROOM)
    return service


def _memory_service(retention: Retention) -> ChatService:
    clock = FixedClock()
    log = InMemoryRoomLog(clock, retention)
    store = InMemoryConnectionStore(clock, log)
    return _filled(ChatService(store, NullNotifier(), clock, log=log), clock)


def _sends(service: ChatService, count: int) -> Callable[[], None]:
    body = json.dumps({"action": "sendMessage", "roomId": ROOM.value, "message": "hi " * 30})
    sender = ConnectionId("c0")

    def run() -> None:
        for _ in range(count):
            assert service.handle(sender, body).status_code == 200

    return run


def memory_overhead() -> Ratio:
    on, off = _memory_service(ON), _memory_service(OFF)
    return compare(
        f"{MEMORY_SENDS:,} sends, history on (memory)",
        _sends(on, MEMORY_SENDS), _sends(off, MEMORY_SENDS), "history off",
    )


def dynamodb_overhead() -> tuple[Ratio, dict[str, list[str]]]:
    """The same on the DynamoDB adapters over moto in-process; and each send's requests."""
    from moto import mock_aws

    from roomcast.adapters.dynamodb_history import DynamoDBRoomLog
    from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore, make_dynamodb_client
    from tests.adapters.dynamodb_helpers import RequestLog
    from tests.support import moto_transactions
    from tests.support.dynamodb_tables import FAKE_AWS_ENVIRONMENT, REGION, create_table

    moto_transactions.install()  # transactions in O(items), as DynamoDB's are, not O(table)

    saved = {name: os.environ.get(name) for name in FAKE_AWS_ENVIRONMENT}
    os.environ.update(FAKE_AWS_ENVIRONMENT)
    try:
        with mock_aws():
            client = make_dynamodb_client(REGION)
            services: dict[str, ChatService] = {}
            for name, retention in (("on", ON), ("off", OFF)):
                table = f"bench-{name}-{uuid.uuid4().hex[:8]}"
                create_table(client, table)
                clock = FixedClock()
                store = DynamoDBConnectionStore(client, table, clock)
                log = DynamoDBRoomLog(client, table, clock, retention)
                services[name] = _filled(ChatService(store, NullNotifier(), clock, log=log), clock)
            requests = {name: _requests_of_one_send(client, s, RequestLog) for name, s in
                        services.items()}
            ratio = compare(
                f"{DYNAMODB_SENDS} sends, history on (DynamoDB, moto)",
                _sends(services["on"], DYNAMODB_SENDS), _sends(services["off"], DYNAMODB_SENDS),
                "history off", repeats=3,
            )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return ratio, requests


def _requests_of_one_send(client: Any, service: ChatService, request_log: Any) -> list[str]:
    """A steady-state send's: the process has read the room before, nobody joined since."""
    _sends_once(service)
    log = request_log(client)
    _sends_once(service)
    operations = list(log.operations)
    log.clear()
    return operations


def _sends_once(service: ChatService) -> None:
    body = json.dumps({"action": "sendMessage", "roomId": ROOM.value, "message": "hi"})
    assert service.handle(ConnectionId("c0"), body).status_code == 200


def report() -> list[str]:
    dynamodb, requests = dynamodb_overhead()
    lines = [memory_overhead().line(), dynamodb.line()]
    for name in ("on", "off"):
        lines.append(f"{'  requests per steady send, history ' + name:<44} "
                     f"{len(requests[name]):8d}   ({' + '.join(requests[name])})")
    return lines
