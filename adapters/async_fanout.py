"""Notifier that fans PostToConnection out concurrently with one long-lived aiobotocore client."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

from adapters.background_loop import BackgroundLoop
from adapters.endpoints import management_endpoint, region_of
from adapters.management_api import (
    Retryable,
    RetryPolicy,
    client_settings,
    exhausted,
    tally,
    translate,
)
from domain.errors import ConnectionGone, DeliveryFailed
from domain.frames import Frame
from domain.model import ConnectionId
from domain.results import BroadcastResult

log = logging.getLogger(__name__)
T = TypeVar("T")


class AsyncFanoutNotifier:
    """At most `concurrency` requests in flight, so N recipients take about N/concurrency trips.

    The bound holds across every caller at once, as does the connection pool sized to match.

    Synchronous callers (Lambda handlers, the local gateway's worker threads) share one event
    loop on a daemon thread and one client created on it at first use; close() releases both.
    """

    def __init__(
        self,
        endpoint_url: str,
        concurrency: int = 50,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        session: AioSession | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.endpoint_url = management_endpoint(endpoint_url)
        self.concurrency = concurrency
        self._region = region or region_of(self.endpoint_url)
        self._retry = retry or RetryPolicy()
        self._session = session or get_session()
        self._slots = asyncio.Semaphore(concurrency)
        self._client_ready = asyncio.Lock()
        self._client: Any = None
        self._exit_stack = AsyncExitStack()
        self._loop: BackgroundLoop | None = None
        self._loop_guard = threading.Lock()
        self._closed = False

    # -- the port ----------------------------------------------------------------

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        self._run(self._post(connection_id, frame.encode()))

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        return self._run(self._broadcast(connection_ids, frame.encode()))

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        return self._run(self._find_gone(connection_ids))

    def close(self) -> None:
        with self._loop_guard:
            self._closed = True
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.run(self._exit_stack.aclose())
            loop.stop()

    # -- on the loop ---------------------------------------------------------------

    async def _broadcast(
        self, connection_ids: Sequence[ConnectionId], data: bytes
    ) -> BroadcastResult:
        outcomes = await asyncio.gather(*(self._outcome(c, data) for c in connection_ids))
        return tally(zip(connection_ids, outcomes, strict=True))

    async def _outcome(self, connection_id: ConnectionId, data: bytes) -> Exception | None:
        try:
            await self._post(connection_id, data)
        except (ConnectionGone, DeliveryFailed) as outcome:
            return outcome
        return None

    async def _find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        verdicts = await asyncio.gather(*(self._is_gone(c) for c in connection_ids))
        return frozenset(c for c, gone in zip(connection_ids, verdicts, strict=True) if gone)

    async def _is_gone(self, connection_id: ConnectionId) -> bool:
        try:
            await self._call("get_connection", ConnectionId=connection_id.value)
        except ConnectionGone:
            return True
        except DeliveryFailed as failure:
            log.warning("could not probe %s, keeping it: %s", connection_id, failure)
        return False

    async def _post(self, connection_id: ConnectionId, data: bytes) -> None:
        await self._call("post_to_connection", ConnectionId=connection_id.value, Data=data)

    async def _call(self, operation: str, **params: Any) -> None:
        client = await self._get_client()
        last: Retryable | None = None
        for pause in self._retry.pauses():
            await asyncio.sleep(pause)
            try:
                async with self._slots:
                    await self._attempt(client, operation, params)
                return
            except Retryable as failure:
                log.debug("%s %s: %s", operation, params["ConnectionId"], failure)
                last = failure
        raise exhausted(last, self._retry.attempts)

    @staticmethod
    async def _attempt(client: Any, operation: str, params: dict[str, Any]) -> None:
        try:
            await getattr(client, operation)(**params)
        except Exception as error:
            raise translate(error, client.exceptions) from error

    async def _get_client(self) -> Any:
        async with self._client_ready:
            if self._client is None:
                self._client = await self._exit_stack.enter_async_context(
                    self._session.create_client(
                        "apigatewaymanagementapi",
                        endpoint_url=self.endpoint_url,
                        region_name=self._region,
                        config=AioConfig(**client_settings(self.concurrency)),
                    )
                )
            return self._client

    # -- the bridge from synchronous callers -----------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self._loop_guard:
            if self._closed:
                coroutine.close()
                raise RuntimeError("AsyncFanoutNotifier is closed")
            if self._loop is None:
                self._loop = BackgroundLoop(name="roomcast-fanout")
            loop = self._loop
        return loop.run(coroutine)
