"""User ids over real sockets: the rule refuses the handshake, and odd ids still make frames."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from roomcast_client import RoomcastClient
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, next_frame

pytestmark = pytest.mark.e2e


class TestUserIdRule:
    @pytest.mark.parametrize(
        "user_id",
        ["alice\u202etxt", "a" * 129, "bell\x07", "zero\u200bwidth"],
        ids=["bidi override", "129 bytes", "control", "zero-width space"],
    )
    @async_test
    async def test_a_user_id_breaking_the_rule_refuses_the_handshake_with_400(
        self, gateway: GatewayProcess, user_id: str
    ) -> None:
        with pytest.raises(InvalidStatus) as refused:
            await RoomcastClient(gateway.websocket_url, {"userId": user_id}).connect()
        assert refused.value.response.status_code == 400

    @async_test
    async def test_the_longest_allowed_id_of_quotes_and_accents_joins_and_is_listed(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        user_id = '"\\é' * 32  # 128 bytes of UTF-8, half of them escaped in JSON
        async with RoomcastClient(gateway.websocket_url, {"userId": user_id}) as client:
            await client.join_room(room)
            frame = await next_frame(client)
        assert (frame["action"], frame["members"], frame["memberCount"]) == (
            "joinedRoom", [user_id], 1
        )


class TestEchoedText:
    @async_test
    async def test_an_action_that_is_a_lone_surrogate_is_refused_with_an_error_frame(
        self, gateway: GatewayProcess
    ) -> None:
        async with RoomcastClient(gateway.websocket_url, {"userId": "alice"}) as client:
            await client.send("\udc80")  # json.dumps sends it as the escape \udc80
            frame = await next_frame(client)
        assert (frame["action"], frame["message"]) == ("error", "Unknown action: \\udc80")
