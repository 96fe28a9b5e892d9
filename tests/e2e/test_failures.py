"""Refused handshakes and failing handlers: API Gateway's answers, and a gateway that stays up."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus

from roomcast_client import RoomcastClient
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, connection_id_of, next_frame

pytestmark = pytest.mark.e2e


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


class TestHandshake:
    @pytest.mark.parametrize("status", [401, 403, 429])
    @async_test
    async def test_a_non_2xx_connect_answer_refuses_the_handshake_with_that_status(
        self, gateway: GatewayProcess, status: int
    ) -> None:
        client = RoomcastClient(gateway.websocket_url, {"userId": "x", "reject": str(status)})
        with pytest.raises(InvalidStatus) as refused:
            await client.connect()
        assert refused.value.response.status_code == status

    @async_test
    async def test_a_connect_handler_that_raises_refuses_with_500(
        self, gateway: GatewayProcess
    ) -> None:
        client = RoomcastClient(gateway.websocket_url, {"userId": "x", "explode": "1"})
        with pytest.raises(InvalidStatus) as refused:
            await client.connect()
        assert refused.value.response.status_code == 500

    def test_a_plain_http_request_to_the_stage_asks_for_an_upgrade(
        self, gateway: GatewayProcess
    ) -> None:
        assert http_status(gateway.management_url) == 426

    def test_another_stage_is_forbidden(self, gateway: GatewayProcess) -> None:
        assert http_status(gateway.management_url.rsplit("/", 1)[0] + "/prod") == 403


class TestFailingMessageHandler:
    @async_test
    async def test_an_exception_becomes_api_gateways_internal_server_error_frame(
        self, gateway: GatewayProcess
    ) -> None:
        async with gateway.client("grace") as grace:
            await grace.send("explode")
            frame = await next_frame(grace)
            connection_id = connection_id_of(gateway, "grace")
            failed = [e for e in gateway.events_of(connection_id) if e.get("body")]
            assert frame == {
                "message": "Internal server error",
                "connectionId": connection_id,
                "requestId": failed[-1]["requestContext"]["requestId"],
            }

    @async_test
    async def test_the_connection_and_the_gateway_keep_working_after_a_failure(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        async with gateway.client("heidi") as heidi:
            await heidi.send("explode")
            assert (await next_frame(heidi))["message"] == "Internal server error"
            await heidi.join_room(room)
            assert (await next_frame(heidi))["action"] == "joinedRoom"

    @async_test
    async def test_a_handler_past_the_integration_timeout_gets_the_timeout_frame(
        self, start: StartGateway
    ) -> None:
        gateway = start("--integration-timeout", "0.3")
        async with gateway.client("ivy") as ivy:
            await ivy.send("dawdle")
            assert (await next_frame(ivy))["message"] == "Endpoint request timed out"
