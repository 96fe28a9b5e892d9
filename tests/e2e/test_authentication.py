"""A gateway whose handlers have ROOMCAST_JWT_SECRET: tokens over real sockets."""

from __future__ import annotations

import time

import jwt
import pytest
from websockets.exceptions import InvalidStatus

from roomcast_client import RoomcastClient
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.support import async_test, next_frame

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret-that-is-at-least-32-bytes"


def token_for(user: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")


@pytest.fixture
def guarded(start: StartGateway) -> GatewayProcess:
    return start(env={"ROOMCAST_JWT_SECRET": SECRET})


class TestTokens:
    @async_test
    async def test_no_token_refuses_the_handshake_with_401(self, guarded: GatewayProcess) -> None:
        with pytest.raises(InvalidStatus) as refused:
            await RoomcastClient(guarded.websocket_url, {"userId": "alice"}).connect()
        assert refused.value.response.status_code == 401

    @async_test
    async def test_the_room_knows_the_tokens_user_not_the_claimed_one(
        self, guarded: GatewayProcess
    ) -> None:
        query = {"userId": "mallory", "token": token_for("alice")}
        async with RoomcastClient(guarded.websocket_url, query) as client:
            await client.join_room("secure")
            frame = await next_frame(client)
        assert {k: frame[k] for k in ("action", "roomId", "memberCount", "members", "userId")} == {
            "action": "joinedRoom", "roomId": "secure", "memberCount": 1, "members": ["alice"],
            "userId": "alice",
        }
