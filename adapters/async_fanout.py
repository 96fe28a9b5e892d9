"""Notifier that fans PostToConnection out concurrently with one long-lived aiobotocore client."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

from roomcast.adapters.endpoints import management_endpoint, region_of
from roomcast.adapters.loop_notifier import LoopNotifier, Operation
from roomcast.adapters.management_api import RetryPolicy, client_settings, translate
from roomcast.domain.model import ConnectionId


class AsyncFanoutNotifier(LoopNotifier):
    """LoopNotifier over one aiobotocore client, created on the loop at first use and shared
    by every caller, with a connection pool sized to the concurrency."""

    def __init__(
        self,
        endpoint_url: str,
        concurrency: int = 50,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        session: AioSession | None = None,
    ) -> None:
        super().__init__(concurrency, retry, loop_name="roomcast-fanout")
        self.endpoint_url = management_endpoint(endpoint_url)
        self._region = region or region_of(self.endpoint_url)
        self._session = session or get_session()
        self._client_ready = asyncio.Lock()
        self._client: Any = None
        self._exit_stack = AsyncExitStack()

    async def _attempt(
        self, operation: Operation, connection_id: ConnectionId, data: bytes
    ) -> None:
        client = await self._get_client()
        try:
            if operation == "post":
                await client.post_to_connection(ConnectionId=connection_id.value, Data=data)
            else:
                await client.get_connection(ConnectionId=connection_id.value)
        except Exception as error:
            raise translate(error) from error

    async def _release(self) -> None:
        await self._exit_stack.aclose()

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
