"""The management API (@connections) through boto3 and raw HTTP, on live and unknown ids."""

from __future__ import annotations

import asyncio
import datetime
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import (
    async_test,
    connection_id_of,
    eventually,
    management_client,
    next_frame,
)

pytestmark = pytest.mark.e2e

UNKNOWN = "AAAAAAAAAAAAAAA="


def raw_request(url: str, method: str, data: bytes | None = None) -> tuple[int, str, Any]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("x-amzn-ErrorType", ""), None
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-amzn-ErrorType", ""), json.loads(error.read())


class TestLiveConnection:
    @async_test
    async def test_post_delivers_the_bytes_as_a_frame(self, gateway: GatewayProcess) -> None:
        async with gateway.client("nina") as nina:
            connection_id = connection_id_of(gateway, "nina")
            response = await asyncio.to_thread(
                management_client(gateway).post_to_connection,
                ConnectionId=connection_id,
                Data=b'{"action":"notice","text":"hello"}',
            )
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert await next_frame(nina) == {"action": "notice", "text": "hello"}

    @async_test
    async def test_get_describes_the_connection(self, gateway: GatewayProcess) -> None:
        async with gateway.client("oscar") as oscar:
            await oscar.ping()
            await asyncio.sleep(0.2)
            found = await asyncio.to_thread(
                management_client(gateway).get_connection,
                ConnectionId=connection_id_of(gateway, "oscar"),
            )
        now = datetime.datetime.now(datetime.UTC)
        assert found["Identity"]["SourceIp"] == "127.0.0.1"
        assert "websockets" in found["Identity"]["UserAgent"]
        assert now - datetime.timedelta(seconds=30) < found["ConnectedAt"] <= found["LastActiveAt"]

    @async_test
    async def test_delete_closes_the_socket_and_tells_the_room(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("peggy") as peggy, gateway.client("quinn") as quinn:
            for member in (peggy, quinn):
                await member.join_room(room)
                assert (await next_frame(member))["action"] == "joinedRoom"
            assert (await next_frame(peggy))["action"] == "userJoined"
            client = management_client(gateway)
            quinn_id = connection_id_of(gateway, "quinn")

            response = await asyncio.to_thread(client.delete_connection, ConnectionId=quinn_id)

            assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
            assert await asyncio.wait_for(quinn.closes.get(), 10) == 1000
            assert (await next_frame(peggy))["action"] == "userLeft"
            with pytest.raises(client.exceptions.GoneException):
                client.post_to_connection(ConnectionId=quinn_id, Data=b"too late")

    @pytest.mark.parametrize("size", [128 * 1024 + 1, 128 * 1024 + 2, 2 * 1024 * 1024])
    def test_a_payload_over_128_kb_is_refused_with_413(
        self, gateway: GatewayProcess, size: int
    ) -> None:
        url = f"{gateway.management_url}/@connections/{UNKNOWN}"
        status, error_type, body = raw_request(url, "POST", b"x" * size)
        assert (status, error_type) == (413, "PayloadTooLargeException")
        assert "message" in body

    def test_boto3_raises_payload_too_large_over_128_kb(self, gateway: GatewayProcess) -> None:
        client = management_client(gateway)
        with pytest.raises(client.exceptions.PayloadTooLargeException):
            client.post_to_connection(ConnectionId=UNKNOWN, Data=b"x" * (128 * 1024 + 1))


class TestUnknownConnection:
    @pytest.mark.parametrize(
        "operation", ["post_to_connection", "get_connection", "delete_connection"]
    )
    def test_boto3_raises_gone_exception(self, gateway: GatewayProcess, operation: str) -> None:
        client = management_client(gateway)
        arguments: dict[str, Any] = {"ConnectionId": UNKNOWN}
        if operation == "post_to_connection":
            arguments["Data"] = b"{}"
        with pytest.raises(client.exceptions.GoneException):
            getattr(client, operation)(**arguments)

    @pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
    def test_the_answer_is_410_with_the_error_type_header(
        self, gateway: GatewayProcess, method: str
    ) -> None:
        url = f"{gateway.management_url}/@connections/{UNKNOWN}"
        status, error_type, body = raw_request(url, method, b"{}" if method == "POST" else None)
        assert (status, error_type) == (410, "GoneException")
        assert set(body) == {"message"}


def access_lines(gateway: GatewayProcess, connection_id: str) -> list[str]:
    return [line.split("roomcast.gateway.access: ", 1)[-1] for line in gateway.output
            if "roomcast.gateway.access" in line and "@connections" in line
            and connection_id in line]


class TestAccessLines:
    @async_test
    async def test_each_call_prints_method_connection_status_and_time_like_a_route(
        self, gateway: GatewayProcess
    ) -> None:
        async with gateway.client("rosa") as rosa:
            connection_id = connection_id_of(gateway, "rosa")
            client = management_client(gateway)
            await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id,
                                    Data=b'{"action":"notice"}')
            await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
            await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
            assert await asyncio.wait_for(rosa.closes.get(), 30) == 1000
            status, _, _ = await asyncio.to_thread(
                raw_request, f"{gateway.management_url}/@connections/{connection_id}", "GET")
            assert status == 410

        # Printed before each answer, read from the gateway's pipe by a thread of its own.
        await eventually(lambda: len(access_lines(gateway, connection_id)) >= 4, timeout=30)
        lines = access_lines(gateway, connection_id)
        assert [line.split()[:4] for line in lines] == [
            ["POST", "@connections", connection_id, "200"],
            ["GET", "@connections", connection_id, "200"],
            ["DELETE", "@connections", connection_id, "204"],
            ["GET", "@connections", connection_id, "410"],
        ]
        assert lines[0].endswith(" ms 19 bytes")  # the size, never the body
        assert all(line.split()[5] == "ms" for line in lines)
