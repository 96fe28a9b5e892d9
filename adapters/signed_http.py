"""Notifier that posts to the Management API over HTTP, each request signed with SigV4.

A recipient costs what differs per recipient: its path and its signature. The frame is
encoded once per broadcast and its hash taken once; requests go out at most `concurrency` at
a time over a keep-alive pool of as many connections. botocore still supplies the credential
chain, the signer and the error parsing, so answers mean what they mean through boto3.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.awsrequest import AWSRequest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import URLLib3Session
from botocore.parsers import RestJSONParser
from botocore.session import Session
from botocore.utils import percent_encode

from roomcast.adapters.endpoints import management_endpoint, region_of
from roomcast.adapters.loop_notifier import LoopNotifier, Operation
from roomcast.adapters.management_api import RetryPolicy, client_settings, translate
from roomcast.adapters.sigv4 import Signer
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult

if TYPE_CHECKING:
    import aiohttp

# A loopback endpoint (roomcast serve, a stand-in) names no region; any region signs for it.
LOOPBACK_REGION = "us-east-1"
# Posts sent over urllib3 before the notifier imports aiohttp (SignedHttpNotifier says why):
# about as many as make urllib3's extra CPU per post add up to aiohttp's import (`make bench`).
URLLIB3_POSTS = 500
# What botocore's clients set (ClientArgsCreator._compute_socket_options): urllib3 writes the
# headers and the body apart, and with Nagle's algorithm on the body would wait for the
# server's delayed ACK, 40 ms on Linux.
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
_METHODS = {"post": "POST", "get": "GET"}
_OPERATIONS = {"post": "PostToConnection", "get": "GetConnection"}


class _Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


class SignedHttpNotifier(LoopNotifier):
    """LoopNotifier over two transports with one contract. Its first `urllib3_posts` posts go
    over urllib3 (botocore's own URLLib3Session, imported with botocore) from a pool of
    `concurrency` threads; a call that would post past them imports aiohttp, cheaper per post,
    and from then on every request goes over one aiohttp session opened on the loop. So the
    first call to a small room pays no aiohttp import (a Lambda cold start), and a large
    room's fan-out pays it once, as soon as it is cheaper than urllib3 (rent, then buy)."""

    def __init__(
        self,
        endpoint_url: str,
        concurrency: int = 50,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        session: Session | None = None,
        urllib3_posts: int = URLLIB3_POSTS,
    ) -> None:
        super().__init__(concurrency, retry, loop_name="roomcast-signed-http")
        self.endpoint_url = management_endpoint(endpoint_url)
        session = session or Session()
        region = region or region_of(self.endpoint_url) or session.get_config_variable("region")
        self._signer = Signer(region or LOOPBACK_REGION, session)
        self._errors = RestJSONParser()
        self._urllib3_posts_left = urllib3_posts
        self._over_aiohttp = False
        self._http: aiohttp.ClientSession | None = None
        self._urllib3: URLLib3Session | None = None
        self._threads: ThreadPoolExecutor | None = None

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        self._choose_transport(1)
        super().send(connection_id, frame)

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        self._choose_transport(len(connection_ids))
        return super().broadcast(connection_ids, frame)

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        self._choose_transport(len(connection_ids))
        return super().find_gone(connection_ids)

    def _choose_transport(self, posts: int) -> None:
        """Counts the call's requests (retries aside, one per recipient) against the urllib3
        budget; runs in the caller's thread, so that importing aiohttp never blocks the loop
        other callers' requests run on."""
        if self._over_aiohttp:
            return
        self._urllib3_posts_left -= posts
        if self._urllib3_posts_left < 0:
            import aiohttp  # noqa: F401

            self._over_aiohttp = True

    async def _attempt(
        self, operation: Operation, connection_id: ConnectionId, data: bytes
    ) -> None:
        method = _METHODS[operation]
        url = f"{self.endpoint_url}/@connections/{percent_encode(connection_id.value)}"
        try:
            headers = self._signer.headers_for(method, url, data)
        except Exception as error:
            raise translate(error) from error
        send = self._over_aiohttp_session if self._over_aiohttp else self._over_urllib3
        answer = await send(method, url, data, headers)
        if answer.status >= 300:
            raise translate(self._client_error(operation, answer))

    async def _over_urllib3(
        self, method: str, url: str, data: bytes, headers: dict[str, str]
    ) -> _Answer:
        """botocore's HTTP layer raises botocore's own errors, as the boto3 notifier meets them."""
        if self._urllib3 is None or self._threads is None:
            settings = client_settings(self.concurrency)
            timeout = (settings["connect_timeout"], settings["read_timeout"])
            self._urllib3 = URLLib3Session(
                timeout=timeout, max_pool_connections=self.concurrency, socket_options=NO_DELAY
            )
            self._threads = ThreadPoolExecutor(self.concurrency, f"{self.loop_name}-post")
        request = AWSRequest(method=method, url=url, data=data or None, headers=headers)
        try:
            response = await asyncio.get_running_loop().run_in_executor(
                self._threads, self._urllib3.send, request.prepare()
            )
        except Exception as error:
            raise translate(error) from error
        return _Answer(response.status_code, response.headers, response.content)

    async def _over_aiohttp_session(
        self, method: str, url: str, data: bytes, headers: dict[str, str]
    ) -> _Answer:
        from yarl import URL

        if self._urllib3 is not None:  # its keep-alive connections would add to aiohttp's C
            self._retire_urllib3(cancel_queued=False)
        try:
            async with self._session().request(
                method, URL(url, encoded=True), data=data or None, headers=headers
            ) as response:
                return _Answer(response.status, response.headers, await response.read())
        except Exception as error:
            raise translate(as_botocore_error(error, url)) from error

    async def _release(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._retire_urllib3(cancel_queued=True)

    def _retire_urllib3(self, cancel_queued: bool) -> None:
        """Close the urllib3 pool and its threads (on the loop: no request is being handed
        to them meanwhile). Requests already handed over still run, unless closing, and
        close their connections when they end."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=cancel_queued)
        if self._urllib3 is not None:
            self._urllib3.close()
        self._threads = self._urllib3 = None

    def _session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._http is None:
            settings = client_settings(self.concurrency)
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency),
                timeout=aiohttp.ClientTimeout(
                    sock_connect=settings["connect_timeout"], sock_read=settings["read_timeout"]
                ),
            )
        return self._http

    def _client_error(self, operation: Operation, answer: _Answer) -> ClientError:
        parsed = self._errors.parse(
            {"status_code": answer.status, "headers": answer.headers, "body": answer.body}, None
        )
        return ClientError(parsed, _OPERATIONS[operation])


def as_botocore_error(error: Exception, url: str) -> Any:
    """The exception aiobotocore raises for the same aiohttp failure (its httpsession.send)."""
    import aiohttp
    from aiohttp.http_exceptions import BadStatusLine

    if isinstance(error, aiohttp.ClientSSLError):
        return SSLError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError
                  | BadStatusLine):
        return ConnectionClosedError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return ConnectTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ClientConnectionError | OSError):
        return EndpointConnectionError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ClientError):
        return HTTPClientError(error=error)
    return error
