"""What every request handler of the gateway shares: routes, limits, invoker, open connections."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from roomcast.entrypoints.gateway.authorizer import ConnectAuthorizer
from roomcast.entrypoints.gateway.connections import GOING_AWAY, ConnectionRegistry
from roomcast.entrypoints.gateway.invoker import Invoker
from roomcast.entrypoints.gateway.origins import OriginPolicy
from roomcast.entrypoints.gateway.proxy_events import Api, new_api_id
from roomcast.entrypoints.gateway.routing import RouteTable

log = logging.getLogger("roomcast.gateway")

KB = 1024


@dataclass(frozen=True)
class GatewayLimits:
    """API Gateway's WebSocket quotas, as the gateway enforces them (all configurable).

    Defaults are API Gateway's: 32 KB frames, 128 KB messages, 10 min idle, 2 h lifetime."""

    max_frame_bytes: int = 32 * KB
    max_message_bytes: int = 128 * KB
    idle_timeout_seconds: float = 10 * 60
    max_connection_seconds: float = 2 * 60 * 60
    integration_timeout_seconds: float = 29
    max_post_bytes: int = 128 * KB
    # Not API Gateway's (it drops a client that cannot keep up, at a limit it does not
    # publish): how far a client may fall behind before it is closed with 1008.
    max_outbound_bytes: int = 1024 * KB


@dataclass
class Gateway:
    routes: RouteTable
    limits: GatewayLimits
    invoker: Invoker
    stage: str
    origins: OriginPolicy = field(default_factory=OriginPolicy)
    api_id: str = field(default_factory=new_api_id)
    connections: ConnectionRegistry = field(default_factory=ConnectionRegistry)
    authorizer: ConnectAuthorizer | None = None
    # roomcast's handlers run here, so the listing can add each connection's user and rooms.
    roomcast_store: bool = True
    # The template's queues and event source mappings (`queues.EventSources`), if any.
    event_sources: Any = None
    accepting: bool = True
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def api(self, host: str) -> Api:
        return Api(api_id=self.api_id, stage=self.stage, domain_name=host)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close_all(self, timeout: float = 30) -> None:
        """Shutdown: refuse new connections, close the open ones, wait for their $disconnect."""
        self.accepting = False
        open_connections = self.connections.all()
        await asyncio.gather(*(c.close(GOING_AWAY) for c in open_connections))
        finished = [c.finished.wait() for c in open_connections]
        try:
            if finished:
                await asyncio.wait_for(asyncio.gather(*finished), timeout)
        except TimeoutError:
            waiting = sum(not c.finished.is_set() for c in open_connections)
            log.warning("stopped waiting after %ss for %d $disconnect call(s)", timeout, waiting)
        finally:
            self.invoker.shutdown()


GATEWAY = web.AppKey("gateway", Gateway)


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    """An error as API Gateway sends it: boto3 reads the type from x-amzn-ErrorType."""
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def forbidden() -> web.Response:
    return aws_error(403, "ForbiddenException", "Forbidden")
