"""The events the handlers receive have API Gateway's shapes, field for field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, connection_id_of, route_keys_once_disconnected

pytestmark = pytest.mark.e2e

CONTEXT_FIELDS = {
    "routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection", "stage",
    "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName", "connectionId",
    "apiId",
}
API_GATEWAY_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")
REQUEST_TIME = re.compile(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")


async def lifecycle(gateway: GatewayProcess, user_id: str) -> list[dict[str, Any]]:
    """Connect, ping, close: the connection's three events."""
    async with gateway.client(user_id) as client:
        await client.ping()
    await route_keys_once_disconnected(gateway, user_id)
    return gateway.events_of(connection_id_of(gateway, user_id))


class TestEventShapes:
    @async_test
    async def test_connect_message_and_disconnect_events_carry_api_gateways_fields(
        self, gateway: GatewayProcess
    ) -> None:
        connect, message, disconnect = await lifecycle(gateway, "rita")

        assert connect["queryStringParameters"] == {"userId": "rita"}
        assert connect["multiValueQueryStringParameters"] == {"userId": ["rita"]}
        assert "Sec-WebSocket-Key" in connect["headers"]
        assert set(connect["requestContext"]) == CONTEXT_FIELDS
        assert connect["requestContext"]["identity"]["userAgent"].startswith("Python/")

        assert set(message) == {"requestContext", "body", "isBase64Encoded"}
        assert set(message["requestContext"]) == CONTEXT_FIELDS | {"messageId"}
        assert message["body"] == '{"action": "ping"}' and message["isBase64Encoded"] is False

        assert set(disconnect["requestContext"]) == CONTEXT_FIELDS | {
            "disconnectStatusCode", "disconnectReason"
        }
        assert disconnect["requestContext"]["disconnectStatusCode"] == 1000

    @async_test
    async def test_ids_times_and_identity_look_like_api_gateways(
        self, gateway: GatewayProcess
    ) -> None:
        events = await lifecycle(gateway, "sybil")
        contexts = [e["requestContext"] for e in events]
        first = contexts[0]
        assert API_GATEWAY_ID.match(first["connectionId"])
        assert all(API_GATEWAY_ID.match(c["requestId"]) for c in contexts)
        assert len({c["requestId"] for c in contexts}) == len(contexts)
        assert all(REQUEST_TIME.match(c["requestTime"]) for c in contexts)
        assert all(c["connectedAt"] == first["connectedAt"] for c in contexts)
        assert all(c["requestTimeEpoch"] >= first["connectedAt"] for c in contexts)
        assert {c["stage"] for c in contexts} == {"dev"}
        assert {c["messageDirection"] for c in contexts} == {"IN"}
        assert {c["identity"]["sourceIp"] for c in contexts} == {"127.0.0.1"}
        assert [c["eventType"] for c in contexts] == ["CONNECT", "MESSAGE", "DISCONNECT"]

    @async_test
    async def test_a_connect_without_a_query_string_has_no_query_fields(
        self, gateway: GatewayProcess
    ) -> None:
        before = len(gateway.events())
        async with gateway.client(None):
            pass
        connects = [
            e for e in gateway.events()[before:] if e["requestContext"]["eventType"] == "CONNECT"
        ]
        assert connects and all("queryStringParameters" not in e for e in connects)
        assert all("multiValueQueryStringParameters" not in e for e in connects)
