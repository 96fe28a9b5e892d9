"""Notifier that posts to the Management API over aiohttp, each request signed with SigV4.

A recipient costs what differs per recipient: its path and its signature. The frame is
encoded once per broadcast and its hash taken once; requests go out at most `concurrency` at
a time over a keep-alive pool of as many connections. botocore still supplies the credential
chain, the signer and the error parsing, so answers mean what they mean through boto3.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.http_exceptions import BadStatusLine
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from botocore.parsers import RestJSONParser
from botocore.session import Session
from botocore.utils import percent_encode
from yarl import URL

from adapters.endpoints import management_endpoint, region_of
from adapters.loop_notifier import LoopNotifier, Operation
from adapters.management_api import RetryPolicy, client_settings, translate
from adapters.sigv4 import Signer
from domain.model import ConnectionId

# A loopback endpoint (roomcast serve, a stand-in) names no region; any region signs for it.
LOOPBACK_REGION = "us-east-1"
_METHODS = {"post": "POST", "get": "GET"}
_OPERATIONS = {"post": "PostToConnection", "get": "GetConnection"}


class SignedHttpNotifier(LoopNotifier):
    """LoopNotifier over one aiohttp session, opened on the loop at first use."""

    def __init__(
        self,
        endpoint_url: str,
        concurrency: int = 50,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        session: Session | None = None,
    ) -> None:
        super().__init__(concurrency, retry, loop_name="roomcast-signed-http")
        self.endpoint_url = management_endpoint(endpoint_url)
        session = session or Session()
        region = region or region_of(self.endpoint_url) or session.get_config_variable("region")
        self._signer = Signer(region or LOOPBACK_REGION, session)
        self._http: aiohttp.ClientSession | None = None
        self._errors = RestJSONParser()

    async def _attempt(
        self, operation: Operation, connection_id: ConnectionId, data: bytes
    ) -> None:
        method = _METHODS[operation]
        url = f"{self.endpoint_url}/@connections/{percent_encode(connection_id.value)}"
        try:
            headers = self._signer.headers_for(method, url, data)
            async with self._session().request(
                method, URL(url, encoded=True), data=data or None, headers=headers
            ) as response:
                answer = await response.read()
        except Exception as error:
            raise translate(as_botocore_error(error, url)) from error
        if response.status >= 300:
            raise translate(self._client_error(operation, response, answer))

    async def _release(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            settings = client_settings(self.concurrency)
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency),
                timeout=aiohttp.ClientTimeout(
                    sock_connect=settings["connect_timeout"], sock_read=settings["read_timeout"]
                ),
            )
        return self._http

    def _client_error(
        self, operation: Operation, response: aiohttp.ClientResponse, body: bytes
    ) -> ClientError:
        parsed = self._errors.parse(
            {"status_code": response.status, "headers": response.headers, "body": body}, None
        )
        return ClientError(parsed, _OPERATIONS[operation])


_CLOSED_EARLY = (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, BadStatusLine)


def as_botocore_error(error: Exception, url: str) -> Any:
    """The exception aiobotocore raises for the same aiohttp failure (its httpsession.send)."""
    if isinstance(error, aiohttp.ClientSSLError):
        return SSLError(endpoint_url=url, error=error)
    if isinstance(error, _CLOSED_EARLY):
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
