"""The composition root: the only module that knows which concrete adapters roomcast runs on."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from dependency_injector import containers, providers

from roomcast.adapters.clocks import SystemClock
from roomcast.adapters.memory_fanout import InMemoryWorkLedger
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.access import RoomAccess
from roomcast.domain.history import Retention
from roomcast.domain.policies import Limits
from roomcast.domain.service import ChatService
from roomcast.domain.sharding import Sharding
from roomcast.entrypoints import settings
from roomcast.entrypoints.authentication import build_verifier
from roomcast.entrypoints.notifier_cache import EndpointNotifier, NotifierCache
from roomcast.ports import Clock, FanoutQueue, Notifier, WorkLedger

# The AWS adapters are imported inside their factories: a $connect cold start should not
# pay for importing aiohttp or aiobotocore, and building a container must create no SDK client.


def _aws_session() -> Any:
    """One botocore session for the DynamoDB client and the notifier's signer: a second one
    would build its own handlers and resolve the credential chain again, in every cold start
    (what a cold start costs: `make bench`). Its credentials are resolved here, under the
    singleton's lock: botocore's session builds its components lazily and is not safe to do
    that from two threads at once."""
    from botocore.session import Session

    session = Session()
    session.get_credentials()
    return session


def _dynamodb_client(session: Any) -> Any:
    from roomcast.adapters.dynamodb_store import make_dynamodb_client

    return make_dynamodb_client(session=session)


def _dynamodb_store(client: Any, table_name: str, clock: Clock) -> Any:
    from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore

    return DynamoDBConnectionStore(client, table_name, clock)


def _dynamodb_log(client: Any, table_name: str, clock: Clock, retention: Retention) -> Any:
    from roomcast.adapters.dynamodb_history import DynamoDBRoomLog

    return DynamoDBRoomLog(client, table_name, clock, retention)


def _fanout_queue(url: str | None, session: Callable[[], Any]) -> FanoutQueue | None:
    """The SQS queue, when one is set; its client is built on the first enqueue."""
    if not url:
        return None
    from roomcast.adapters.sqs_fanout import LazyClient, SqsFanoutQueue, make_sqs_client

    return SqsFanoutQueue(LazyClient(lambda: make_sqs_client(session=session())), url)


def _dynamodb_ledger(client: Any, table_name: str, clock: Clock) -> Any:
    from roomcast.adapters.dynamodb_ledger import DynamoDBWorkLedger

    return DynamoDBWorkLedger(client, table_name, clock)


def _sharding(queue: FanoutQueue | None, ledger: WorkLedger, shard_size: int) -> Sharding | None:
    return None if queue is None else Sharding(queue, ledger, shard_size)


def _sync_notifier(endpoint: str) -> Notifier:
    from roomcast.adapters.post_to_connection import PostToConnectionNotifier, management_client

    return PostToConnectionNotifier(management_client(endpoint))


def _http_notifier(endpoint: str, concurrency: int, session: Any) -> Notifier:
    from roomcast.adapters.signed_http import SignedHttpNotifier

    return SignedHttpNotifier(endpoint, concurrency=concurrency, session=session)


def _async_notifier(endpoint: str, concurrency: int) -> Notifier:
    from roomcast.adapters.async_fanout import AsyncFanoutNotifier

    return AsyncFanoutNotifier(endpoint, concurrency=concurrency)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    clock = providers.ThreadSafeSingleton(SystemClock)
    limits = providers.ThreadSafeSingleton(
        Limits,
        max_rooms_per_connection=config.max_rooms_per_connection,
        max_message_bytes=config.max_message_bytes,
        connection_ttl_seconds=config.connection_ttl_seconds,
        max_members_per_room=config.max_members_per_room,
        max_members_in_joined_room=config.max_members_in_joined_room,
    )

    retention = providers.ThreadSafeSingleton(
        Retention, messages=config.history_messages, seconds=config.history_seconds
    )

    aws_session = providers.ThreadSafeSingleton(_aws_session)
    dynamodb_client = providers.ThreadSafeSingleton(_dynamodb_client, session=aws_session)
    room_log = providers.Selector(
        config.store,
        dynamodb=providers.ThreadSafeSingleton(
            _dynamodb_log, client=dynamodb_client, table_name=config.table_name, clock=clock,
            retention=retention,
        ),
        memory=providers.ThreadSafeSingleton(InMemoryRoomLog, clock=clock, retention=retention),
    )
    store = providers.Selector(
        config.store,
        dynamodb=providers.ThreadSafeSingleton(
            _dynamodb_store, client=dynamodb_client, table_name=config.table_name, clock=clock
        ),
        memory=providers.ThreadSafeSingleton(InMemoryConnectionStore, clock=clock, log=room_log),
    )

    fanout_queue = providers.ThreadSafeSingleton(
        _fanout_queue, url=config.fanout_queue_url, session=aws_session.provider
    )
    work_ledger = providers.Selector(
        config.store,
        dynamodb=providers.ThreadSafeSingleton(
            _dynamodb_ledger, client=dynamodb_client, table_name=config.table_name, clock=clock
        ),
        memory=providers.ThreadSafeSingleton(InMemoryWorkLedger),
    )
    sharding = providers.Factory(
        _sharding, queue=fanout_queue, ledger=work_ledger, shard_size=config.fanout_shard_size
    )

    notifier_factory = providers.Selector(
        config.notifier,
        http=providers.Factory(
            _http_notifier, concurrency=config.fanout_concurrency, session=aws_session
        ),
        sync=providers.Factory(_sync_notifier),
        **{"async": providers.Factory(_async_notifier, concurrency=config.fanout_concurrency)},
    )
    notifiers = providers.ThreadSafeSingleton(NotifierCache, build=notifier_factory.provider)
    notifier = providers.Factory(EndpointNotifier, cache=notifiers)

    verifier = providers.ThreadSafeSingleton(build_verifier, config)
    room_access = providers.Callable(RoomAccess, config.room_access)

    chat_service = providers.Factory(
        ChatService, store=store, clock=clock, limits=limits, verifier=verifier, log=room_log,
        access=room_access, sharding=sharding,
    )


def build_container(environ: Mapping[str, str] | None = None) -> Container:
    """A container configured from the environment; a bad variable raises ConfigurationError."""
    container = Container()
    container.config.from_dict(settings.from_environ(os.environ if environ is None else environ))
    return container


_lock = threading.Lock()
_container: Container | None = None


def get_container() -> Container:
    """The process-wide container, built on first use (once per Lambda execution environment)."""
    global _container
    with _lock:
        if _container is None:
            _container = build_container()
        return _container


def reset_container() -> None:
    """Forget the process-wide container (closing its notifiers); the next use rebuilds it."""
    global _container
    with _lock:
        old, _container = _container, None
    if old is not None:
        close = getattr(old.notifiers(), "close", None)
        if callable(close):
            close()
