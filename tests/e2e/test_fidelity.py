"""`roomcast serve` as API Gateway behaves, talks and guards, seen from real clients (issue 10)."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from roomcast.entrypoints.cli.main import main
from tests.e2e.conftest import StartGateway
from tests.e2e.fidelity_template import write_fidelity_template
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.e2e.raw_client import tcp_connection
from tests.e2e.support import (
    assert_nothing_more,
    async_test,
    connection_id_of,
    eventually,
    management_client,
    route_keys_once_disconnected,
)
from tests.support.moto_server import moto_server_url

pytestmark = pytest.mark.e2e

TRACE_ID = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")
APP_ORIGIN = "https://app.example"


@pytest.fixture(autouse=True)
def frames_follow_the_asyncapi_document() -> None:
    """Not here: these tests speak API Gateway's features (a two-way echo route, binary frames),
    outside roomcast's own protocol that docs/asyncapi.yaml describes."""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    directory = tmp_path_factory.mktemp("fidelity")
    template = write_fidelity_template(directory)
    running = start_gateway(
        "--template", str(template), "--allowed-origin", APP_ORIGIN,
        event_log=directory / "events.jsonl",
    )
    yield running
    running.stop()


def url(gateway: GatewayProcess, user_id: str, **query: str) -> str:
    extra = "".join(f"&{name}={value}" for name, value in query.items())
    return f"{gateway.websocket_url}?userId={user_id}{extra}"


def port_of(gateway: GatewayProcess) -> int:
    return urlsplit(gateway.websocket_url).port or 80


def events_of(gateway: GatewayProcess, user_id: str) -> list[dict[str, Any]]:
    return gateway.events_of(connection_id_of(gateway, user_id))


async def disconnect_context(gateway: GatewayProcess, user_id: str) -> dict[str, Any]:
    await route_keys_once_disconnected(gateway, user_id)
    return dict(events_of(gateway, user_id)[-1]["requestContext"])


async def receive_json(socket: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(socket.recv(), 10))


def raw_http(gateway: GatewayProcess, request: str) -> str:
    """Send one raw HTTP request; the status line of the answer."""
    with tcp_connection(gateway.websocket_url) as raw:
        raw.sendall(request.encode())
        return raw.recv(4096).decode(errors="replace").split("\r\n")[0]


async def ping_and_leave(gateway: GatewayProcess, user_id: str) -> str:
    """Connect, ping, close; the connection's id once its $disconnect has run."""
    async with connect(url(gateway, user_id)) as client:
        await client.send('{"action": "ping"}')
        await receive_json(client)
    await route_keys_once_disconnected(gateway, user_id)
    return connection_id_of(gateway, user_id)


class TestEventsAsApiGatewaySendsThem:
    @async_test
    async def test_ids_identity_and_connect_headers_match_api_gateways(
        self, gateway: GatewayProcess
    ) -> None:
        await ping_and_leave(gateway, "fay")
        connect_event, message, disconnect = events_of(gateway, "fay")

        contexts = [e["requestContext"] for e in (connect_event, message, disconnect)]
        assert all(c["requestId"] == c["extendedRequestId"] for c in contexts)
        assert message["requestContext"]["identity"]["userAgent"].startswith("Python/")
        headers = connect_event["headers"]
        assert not {"Upgrade", "Connection"} & set(headers)
        assert headers["X-Forwarded-For"] == "127.0.0.1"
        assert headers["X-Forwarded-Port"] == str(port_of(gateway))
        assert headers["X-Forwarded-Proto"] == "http"
        assert TRACE_ID.match(headers["X-Amzn-Trace-Id"])
        assert connect_event["multiValueHeaders"]["X-Amzn-Trace-Id"] == [
            headers["X-Amzn-Trace-Id"]
        ]


class TestRouteResponses:
    @async_test
    async def test_a_route_with_a_route_response_sends_the_body_back(
        self, gateway: GatewayProcess
    ) -> None:
        async with connect(url(gateway, "gus")) as gus:
            await gus.send('{"action": "echo", "n": 1}')
            assert await receive_json(gus) == {"echo": {"action": "echo", "n": 1}}

    @async_test
    async def test_a_route_without_one_sends_nothing_of_its_body(
        self, gateway: GatewayProcess
    ) -> None:
        async with gateway.client("hal") as hal:
            await hal.ping()  # the handler's own pong; its {"statusCode", "body"} stays put
            await assert_nothing_more(hal, wait=0.5)


class TestSubprotocols:
    @async_test
    async def test_the_subprotocol_connect_returns_is_the_handshakes(
        self, gateway: GatewayProcess
    ) -> None:
        address = url(gateway, "ida", subprotocol="chat.v2")
        async with connect(address, subprotocols=["token.abc", "chat.v2"]) as ida:  # type: ignore[list-item]
            assert ida.subprotocol == "chat.v2"

    @async_test
    async def test_none_is_selected_when_connect_returns_none(
        self, gateway: GatewayProcess
    ) -> None:
        # Offered but not selected: the answer names none (a browser then fails the
        # handshake, as it does against API Gateway).
        async with connect(url(gateway, "jon"), subprotocols=["chat.v2"]) as jon:  # type: ignore[list-item]
            assert jon.subprotocol is None
        async with connect(url(gateway, "joy")) as joy:
            assert joy.subprotocol is None


    @async_test
    async def test_one_the_client_did_not_offer_is_dropped_with_a_warning_not_naming_it(
        self, gateway: GatewayProcess
    ) -> None:
        async with connect(url(gateway, "kit", subprotocol="token.s3cr3t")) as kit:
            assert kit.subprotocol is None
        await eventually(lambda: any("did not offer" in line for line in gateway.output))
        assert not any("s3cr3t" in line for line in gateway.output)


class TestClosing:
    @async_test
    async def test_a_binary_frame_closes_with_1003_and_runs_disconnect(
        self, gateway: GatewayProcess
    ) -> None:
        async with connect(url(gateway, "kim")) as kim:
            await kim.send(b"\x00\x01binary")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(kim.recv(), 10)
            assert kim.close_code == 1003
        context = await disconnect_context(gateway, "kim")
        assert context["disconnectStatusCode"] == 1003
        assert [e["requestContext"]["eventType"] for e in events_of(gateway, "kim")] == [
            "CONNECT", "DISCONNECT"
        ]

    @pytest.mark.parametrize(("user", "reason"), [("lee", ""), ("lou", "done for today")])
    @async_test
    async def test_a_clients_close_reason_is_reported_as_sent(
        self, gateway: GatewayProcess, user: str, reason: str
    ) -> None:
        async with connect(url(gateway, user)) as client:
            await client.close(4000, reason)
        context = await disconnect_context(gateway, user)
        assert (context["disconnectStatusCode"], context["disconnectReason"]) == (4000, reason)

    @async_test
    async def test_a_client_gone_during_the_handshake_leaves_no_traceback(
        self, gateway: GatewayProcess
    ) -> None:
        before = len(gateway.output)
        with tcp_connection(gateway.websocket_url) as raw:
            raw.sendall(upgrade_request(gateway, "/dev?userId=max&dawdle=0.5").encode())
            await eventually(lambda: has_connected(gateway, "max"))
        assert await route_keys_once_disconnected(gateway, "max") == ["$connect", "$disconnect"]
        await asyncio.sleep(0.2)
        later = "\n".join(gateway.output[before:])
        assert "Traceback" not in later and "Error handling request" not in later


def has_connected(gateway: GatewayProcess, user_id: str) -> bool:
    try:
        connection_id_of(gateway, user_id)
    except AssertionError:
        return False
    return True


def upgrade_request(gateway: GatewayProcess, target: str, host: str | None = None,
                    origin: str | None = None) -> str:
    host = host or urlsplit(gateway.websocket_url).netloc
    origin_line = f"Origin: {origin}\r\n" if origin else ""
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\n{origin_line}\r\n"
    )


class TestOriginsAndHosts:
    @async_test
    async def test_a_foreign_page_is_refused_before_connect_runs(
        self, gateway: GatewayProcess
    ) -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url(gateway, "ned"), origin="https://evil.example"):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
        with pytest.raises(AssertionError):
            connection_id_of(gateway, "ned")

    @pytest.mark.parametrize("origin", [APP_ORIGIN, "http://localhost:5173"])
    @async_test
    async def test_loopback_pages_and_allowed_origins_connect(
        self, gateway: GatewayProcess, origin: str
    ) -> None:
        async with connect(url(gateway, "ola"), origin=origin) as ola:  # type: ignore[arg-type]
            await ola.send('{"action": "ping"}')
            assert (await receive_json(ola))["action"] == "pong"

    def test_a_rebound_host_name_is_refused(self, gateway: GatewayProcess) -> None:
        rebound = "rebind.example:80"
        assert " 403 " in raw_http(gateway, upgrade_request(gateway, "/dev", host=rebound))
        listing = f"GET /@roomcast/connections HTTP/1.1\r\nHost: {rebound}\r\n\r\n"
        assert " 403 " in raw_http(gateway, listing)


def management_status(gateway: GatewayProcess, path: str, method: str = "GET",
                      headers: dict[str, str] | None = None) -> int:
    base = gateway.page_url.rstrip("/")
    request = urllib.request.Request(base + path, data=b"x" if method == "POST" else None,
                                     method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


class TestManagementApiFromBrowsers:
    @async_test
    async def test_pages_of_other_sites_can_neither_post_nor_list(
        self, gateway: GatewayProcess
    ) -> None:
        own = gateway.page_url.rstrip("/")
        async with gateway.client("pia") as pia:
            path = f"/dev/@connections/{connection_id_of(gateway, 'pia')}"
            attempts = [
                (path, "POST", {"Origin": "https://evil.example"}),
                (path, "POST", {"Origin": own, "Content-Type": "text/plain"}),
                (path, "GET", {"Sec-Fetch-Site": "cross-site"}),
                ("/@roomcast/connections", "GET", {"Origin": "https://evil.example"}),
            ]
            for attempt in attempts:
                assert await asyncio.to_thread(management_status, gateway, *attempt) == 403
            await assert_nothing_more(pia)
            sdk = management_client(gateway)
            await asyncio.to_thread(
                sdk.post_to_connection, ConnectionId=connection_id_of(gateway, "pia"), Data=b"{}"
            )
            assert await pia.receive(10) == {}


class TestConsole:
    @async_test
    async def test_one_line_per_connect_invocation_disconnect_and_refusal(
        self, gateway: GatewayProcess
    ) -> None:
        connection_id = await ping_and_leave(gateway, "quinn")
        expected = [
            rf"\$connect +{re.escape(connection_id)} 200 \d+ ms Python/",
            rf"ping +{re.escape(connection_id)} 200 \d+ ms",
            rf"\$disconnect {re.escape(connection_id)} 200 \d+ ms close 1000 ",
        ]
        await eventually(lambda: all(
            any(re.search(p, line) for line in gateway.output) for p in expected
        ))
        with pytest.raises(InvalidStatus):
            async with connect(url(gateway, "rex"), origin="https://evil.example"):  # type: ignore[arg-type]
                pass
        await eventually(lambda: any("403 refused: Origin" in line for line in gateway.output))
        assert not any("roomcast.metrics" in line for line in gateway.output)
        assert not any("roomcast.invocation" in line for line in gateway.output)

    def test_no_part_of_a_token_is_logged_even_from_a_request_too_long(
        self, gateway: GatewayProcess
    ) -> None:
        token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJlLXBhcnQ"
        target = f"/dev?userId=sam&token={token}&pad={'x' * 9000}"
        assert " 400 " in raw_http(gateway, upgrade_request(gateway, target))
        assert " 403 " in raw_http(gateway, upgrade_request(
            gateway, f"/dev?token={token}", origin="https://evil.example"))
        log = "\n".join(gateway.output)
        for piece in token.split("."):
            assert piece not in log


class TestLogLevels:
    @async_test
    async def test_quiet_hides_the_access_lines_and_debug_adds_the_handlers_records(
        self, start: StartGateway
    ) -> None:
        quiet, verbose = start("-q"), start("--log-level", "debug")
        for running in (quiet, verbose):
            async with running.client("val") as val:
                await val.ping()
        await eventually(lambda: any("roomcast.metrics" in line for line in verbose.output))
        assert any("roomcast.invocation" in line for line in verbose.output)
        assert any("$connect " in line for line in verbose.output)
        await asyncio.sleep(0.3)
        assert not any("roomcast." in line for line in quiet.output)


class TestStats:
    @async_test
    async def test_stats_against_a_gateway_gives_its_live_counts(
        self, gateway: GatewayProcess, capsys: pytest.CaptureFixture[str]
    ) -> None:
        async with gateway.client("tom") as tom, gateway.client("uma") as uma:
            await tom.join_room("stats-room")
            await uma.join_room("stats-room")
            await asyncio.sleep(0.3)
            status = await asyncio.to_thread(main, ["stats", "--gateway", gateway.page_url])
        assert status == 0
        report = json.loads(capsys.readouterr().out)
        assert report["roomCounts"]["stats-room"] == 2
        assert report["totalConnections"] >= 2



class TestBanner:
    def test_it_names_the_dynamodb_table_and_endpoint_it_created_and_uses(
        self, start: StartGateway, request: pytest.FixtureRequest
    ) -> None:
        endpoint = moto_server_url(request.config)  # a process of its own, tables of its own
        table = f"fidelity-{uuid.uuid4().hex[:8]}"
        environ = {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "CONNECTIONS_TABLE": table,
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "e2e",
            "AWS_SECRET_ACCESS_KEY": "e2e",
        }
        running = start("--store", "dynamodb", "--create-table", env=environ)
        assert f"Created table {table} (TTL on expiresAt)" in running.output
        assert f"  Store:      DynamoDB table {table} at {endpoint}" in running.output
