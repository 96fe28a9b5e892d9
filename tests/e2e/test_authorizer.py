"""`roomcast serve --parameter-overrides Authentication=authorizer`: the template's $connect
authorizer runs as API Gateway runs it, seen by real WebSocket clients at their defaults."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from roomcast_client import RoomcastClient
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.e2e.support import (
    async_test,
    connection_id_of,
    next_frame,
    route_keys_once_disconnected,
)
from tests.support.identity import (
    JwksServer,
    ec_key,
    refused_tokens,
    rsa_key,
    write_jwks,
)

pytestmark = pytest.mark.e2e

RSA, EC = rsa_key("rsa-1"), ec_key("ec-1")
ISSUER, AUDIENCE = "https://issuer.example", "roomcast"
GOOD = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE}
AUTHORIZER = ("--parameter-overrides", "Authentication=authorizer")

REFUSED_TOKENS = refused_tokens(RSA, GOOD, {"aud": "another-app"})


def settings(jwks_file: Path) -> dict[str, str]:
    return {"ROOMCAST_JWKS_FILE": str(jwks_file), "ROOMCAST_JWT_ISSUER": ISSUER,
            "ROOMCAST_JWT_AUDIENCE": AUDIENCE}


@pytest.fixture(scope="module")
def guarded(
    e2e_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    directory = tmp_path_factory.mktemp("authorizer")
    running = start_gateway(
        "--template", str(e2e_template), *AUTHORIZER,
        env=settings(write_jwks(directory / "jwks.json", RSA, EC)),
        event_log=directory / "events.jsonl",
    )
    yield running
    running.stop()


async def status_of(url: str, query: dict[str, str] | None = None, **options: Any) -> int:
    try:
        async with RoomcastClient(url, query or {}, **options):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def authorizer_calls(gateway: GatewayProcess) -> int:
    return sum(1 for event in gateway.events() if event.get("type") == "REQUEST")


class TestTheAuthorizerOverRealSockets:
    @async_test
    @pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
    async def test_a_valid_token_connects_its_subject_not_the_claimed_user(
        self, guarded: GatewayProcess, key: Any
    ) -> None:
        query = {"userId": "mallory", "token": key.sign(GOOD)}
        async with RoomcastClient(guarded.websocket_url, query) as client:
            await client.join_room(f"vault-{key.kid}")
            frame = await next_frame(client)
        assert frame["members"] == ["alice"]

    @async_test
    async def test_a_missing_token_is_401_and_the_authorizer_never_runs(
        self, guarded: GatewayProcess
    ) -> None:
        before = authorizer_calls(guarded)
        assert await status_of(guarded.websocket_url, {"userId": "alice"}) == 401
        assert await status_of(guarded.websocket_url, {"token": ""}) == 401
        assert authorizer_calls(guarded) == before

    @async_test
    @pytest.mark.parametrize("make_token", REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
    async def test_a_token_proving_nobody_is_denied_with_403(
        self, guarded: GatewayProcess, make_token: Callable[[], str]
    ) -> None:
        query = {"userId": "alice", "token": make_token()}
        assert await status_of(guarded.websocket_url, query) == 403

    @async_test
    async def test_its_context_reaches_every_event_of_the_connection(
        self, guarded: GatewayProcess
    ) -> None:
        query = {"userId": "context-check", "token": RSA.sign({**GOOD, "sub": "carol"})}
        async with RoomcastClient(guarded.websocket_url, query) as client:
            await client.ping()
        await route_keys_once_disconnected(guarded, "context-check")
        connection_id = connection_id_of(guarded, "context-check")
        seen = [e for e in guarded.events_of(connection_id) if "type" not in e]
        assert [e["requestContext"]["eventType"] for e in seen] == [
            "CONNECT", "MESSAGE", "DISCONNECT"]
        for event in seen:
            assert event["requestContext"]["authorizer"] == {
                "principalId": "carol", "userId": "carol"}


class TestTokenInTheSubprotocol:
    @async_test
    async def test_the_protocol_carries_the_token_and_roomcast_is_chosen(
        self, start: StartGateway, tmp_path: Path
    ) -> None:
        gateway = start(*AUTHORIZER, "AuthorizerTokenSource=protocol",
                        env=settings(write_jwks(tmp_path / "jwks.json", RSA)))
        token = RSA.sign(GOOD)
        async with websockets.connect(
            gateway.websocket_url, subprotocols=["roomcast", token]
        ) as socket:
            assert socket.subprotocol == "roomcast"
        assert await status_of(gateway.websocket_url, {"token": token}) == 401


class TestTheIssuerOverHttp:
    @async_test
    async def test_a_rotated_key_is_fetched_once_and_an_unreachable_issuer_is_500(
        self, start: StartGateway
    ) -> None:
        issuer, rotated = JwksServer(RSA), ec_key("ec-rotated")
        with issuer.running():
            gateway = start(*AUTHORIZER, env={
                "ROOMCAST_JWKS_URL": issuer.url, "ROOMCAST_JWKS_MIN_REFRESH_SECONDS": "1"})
            assert await status_of(gateway.websocket_url, {"token": RSA.sign(GOOD)}) == 101
            issuer.document["keys"].append(rotated.public_jwk())
            time.sleep(1.05)
            assert await status_of(gateway.websocket_url, {"token": rotated.sign(GOOD)}) == 101
            assert issuer.fetches == 2
        unreachable = start(*AUTHORIZER, env={"ROOMCAST_JWKS_URL": "http://127.0.0.1:9/j"})
        assert await status_of(unreachable.websocket_url, {"token": RSA.sign(GOOD)}) == 500
