"""Where the operator's commands look and act: the DynamoDB table with the Management API,
or a running `roomcast serve` (its listing endpoint and its @connections)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from attrs import frozen

from roomcast.domain.model import Connection
from roomcast.entrypoints.cli.errors import (
    GATEWAY_EXAMPLE,
    USAGE,
    OperatorError,
    aws_errors,
    gone,
)


@frozen
class ConnectionRow:
    connection_id: str
    user_id: str | None
    rooms: tuple[str, ...]
    connected_at: int  # epoch milliseconds

    def as_json(self) -> dict[str, Any]:
        return {"connectionId": self.connection_id, "userId": self.user_id,
                "rooms": list(self.rooms), "connectedAt": self.connected_at}

    @classmethod
    def of(cls, connection: Connection) -> ConnectionRow:
        rooms = tuple(room.value for room in connection.rooms_oldest_first())
        return cls(connection.id.value, connection.user_id.value, rooms, connection.connected_at)


class Source(Protocol):
    def connections(self) -> list[ConnectionRow]: ...

    def post(self, connection_id: str, data: bytes) -> None: ...

    def kick(self, connection_id: str) -> None: ...


ENDPOINT_EXAMPLE = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
# The schemes a gateway's or an API's URLs come in; WebSocket URLs name the same host and stage.
HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
HOST_AND_PORT = re.compile(r"^[\w.-]+:\d+(/[\w-]*)?/?$")
# API Gateway's rule for a stage name (CreateStage refuses any other).
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _split(text: str) -> tuple[str, str] | None:
    """`scheme://host[:port]` and the path, or None when `text` is no http(s)/ws(s) URL."""
    parts = urllib.parse.urlsplit(text.strip())
    scheme = HTTP_SCHEMES.get(parts.scheme.lower())
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number, or out of range
        port_ok = False
    if scheme is None or not parts.hostname or not port_ok or parts.query or parts.fragment:
        return None
    return f"{scheme}://{parts.netloc}", parts.path


def _example(text: str, default: str) -> str:
    """What the user most likely meant: `127.0.0.1:8080` is `http://127.0.0.1:8080/dev`."""
    if "://" not in text and HOST_AND_PORT.match(text.strip()):
        host_port, _, stage = text.strip().rstrip("/").partition("/")
        return f"http://{host_port}/{stage or 'dev'}"
    return default


def gateway_address(url: str) -> tuple[str, str | None]:
    """A running `roomcast serve`'s base URL and the stage named in `url`, if any:
    `http://127.0.0.1:8080` and the banner's `http://127.0.0.1:8080/dev` both do."""
    split = _split(url)
    stage = split[1].strip("/") if split is not None else ""
    if split is None or (stage and not STAGE_NAME.fullmatch(stage)):
        raise OperatorError(
            f"--gateway {url!r} is not a gateway URL: write it as "
            f"--gateway {_example(url, GATEWAY_EXAMPLE)}", USAGE,
        )
    return split[0], stage or None


def management_api_endpoint(url: str) -> str:
    """`--endpoint`, checked: an http(s) URL with a host (a ws(s) one names the same API)."""
    if _split(url) is None:
        raise OperatorError(
            f"--endpoint {url!r} is not a Management API endpoint: write it as --endpoint "
            f"{ENDPOINT_EXAMPLE} (the stack's ManagementEndpoint output), or use --gateway "
            f"{_example(url, GATEWAY_EXAMPLE)} for a running roomcast serve", USAGE,
        )
    return url


class GatewaySource:
    """A local gateway: GET /@roomcast/connections, and /{stage}/@connections/{id}."""

    def __init__(self, url: str) -> None:
        self.url, self._stage = gateway_address(url)
        self._listing: Mapping[str, Any] | None = None

    def listing(self) -> Mapping[str, Any]:
        if self._listing is None:
            listing = json.loads(self._request("GET", "/@roomcast/connections"))
            served = listing["stage"]
            if self._stage is not None and self._stage != served:
                raise OperatorError(
                    f"the gateway at {self.url} serves stage {served!r}, not "
                    f"{self._stage!r}: use --gateway {self.url}/{served}", USAGE,
                )
            self._listing = listing
        return self._listing

    @property
    def management_endpoint(self) -> str:
        return f"{self.url}/{self.listing()['stage']}"

    def connections(self) -> list[ConnectionRow]:
        return [
            ConnectionRow(c["connectionId"], c.get("userId"), tuple(c.get("rooms", ())),
                          int(c["connectedAt"]))
            for c in self.listing()["connections"]
        ]

    def post(self, connection_id: str, data: bytes) -> None:
        self._request("POST", self._connection_path(connection_id), data)

    def kick(self, connection_id: str) -> None:
        self._request("DELETE", self._connection_path(connection_id))

    def _connection_path(self, connection_id: str) -> str:
        quoted = urllib.parse.quote(connection_id, safe="")
        return f"/{self.listing()['stage']}/@connections/{quoted}"

    def _request(self, method: str, path: str, data: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 410:
                raise gone(urllib.parse.unquote(path.rsplit("/", 1)[-1])) from None
            if error.code == 404 and path.startswith("/@roomcast/"):
                raise OperatorError(f"{self.url} is not a roomcast gateway (no {path})") from None
            raise OperatorError(f"{method} {self.url}{path}: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise OperatorError(f"cannot reach the gateway at {self.url}: {reason}") from None


class TableSource:
    """The DynamoDB table through the container's store; posts through the Management API."""

    def __init__(self, container: Any, endpoint: str | None) -> None:
        self.container = container
        self._endpoint = endpoint

    @property
    def management_endpoint(self) -> str:
        if not self._endpoint:
            raise OperatorError(
                "this needs the Management API endpoint: --endpoint or WEBSOCKET_ENDPOINT "
                "(the stack's ManagementEndpoint output)", USAGE,
            )
        return self._endpoint

    def stored_connections(self) -> list[Connection]:
        with aws_errors():
            return list(self.container.store().connections())

    def connections(self) -> list[ConnectionRow]:
        now = self.container.clock().now_ms()
        live = [c for c in self.stored_connections() if not c.is_expired(now)]
        return [ConnectionRow.of(c) for c in sorted(live, key=lambda c: c.connected_at)]

    def post(self, connection_id: str, data: bytes) -> None:
        client = self._management_client()
        with aws_errors(connection_id, client):
            client.post_to_connection(ConnectionId=connection_id, Data=data)

    def kick(self, connection_id: str) -> None:
        client = self._management_client()
        with aws_errors(connection_id, client):
            client.delete_connection(ConnectionId=connection_id)

    def _management_client(self) -> Any:
        from roomcast.adapters.post_to_connection import management_client

        with aws_errors():
            return management_client(self.management_endpoint)
