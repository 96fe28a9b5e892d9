"""What the gateway hands roomcast's own handlers: its in-process notifier, a sized pool."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dependency_injector import providers

from roomcast.entrypoints.gateway.inprocess import InProcessNotifier
from roomcast.entrypoints.gateway.state import Gateway

log = logging.getLogger("roomcast.gateway")

BOTOCORE_DEFAULT_POOL = 10


def configure(
    gateway: Gateway,
    notifier: str,
    workers: int,
    *,
    fanout_queue: Any = None,
    extra_threads: int = 0,
) -> None:
    """Override providers of the handlers' process-wide container (dependency-injector's
    `override`): no handler changes, and a deployment never sees any. Handlers of another
    template are untouched: they keep posting with boto3 through the management API.

    `fanout_queue`, when given, is the template's fan-out queue in this process (the SQS
    adapter on a local queue, `queues.py`); `extra_threads` are the event source mappings'
    workers, which call the handlers besides the invoker's pool."""
    from roomcast.entrypoints.containers import get_container
    from roomcast.entrypoints.settings import ConfigurationError

    try:
        container = get_container()
    except ConfigurationError as error:  # the handlers will say so on every invocation
        log.warning("roomcast's handlers are misconfigured: %s", error)
        return
    if notifier == "inprocess":
        loop = asyncio.get_running_loop()
        delivery = InProcessNotifier(gateway.connections, loop, gateway.limits.max_post_bytes)
        container.notifier.override(providers.Object(delivery))
    if fanout_queue is not None:
        container.fanout_queue.override(providers.Object(fanout_queue))
    # Every worker thread may be in a DynamoDB call at once: one pooled HTTP connection each.
    pool = max(workers + extra_threads, BOTOCORE_DEFAULT_POOL)
    container.dynamodb_client.override(providers.ThreadSafeSingleton(_dynamodb_client, pool))


def _dynamodb_client(max_pool_connections: int) -> Any:
    from roomcast.adapters.dynamodb_store import make_dynamodb_client

    return make_dynamodb_client(max_pool_connections=max_pool_connections)
