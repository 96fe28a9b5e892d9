"""Tokens from a JWKS through the REQUEST authorizer and through the $connect handler."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import Container, get_container
from roomcast.entrypoints.settings import ConfigurationError
from tests.support import events
from tests.support.identity import (
    CLIENT_ID,
    ISSUER,
    JwksServer,
    ec_key,
    hs256_with_public_key,
    refused_tokens,
    rsa_key,
    write_jwks,
)

RSA, EC = rsa_key("rsa-1"), ec_key("ec-1")
GOOD = {"sub": "alice", "iss": ISSUER, "client_id": CLIENT_ID, "token_use": "access"}

REFUSED_TOKENS: dict[str, Callable[[], str]] = {
    **refused_tokens(RSA, GOOD, {"client_id": "another-client"}),
    "garbage": lambda: "not-a-jwt",
    "subject breaking the user-id rule": lambda: RSA.sign({**GOOD, "sub": "alice\u202e"}),
}


@pytest.fixture
def with_jwks(environment: pytest.MonkeyPatch, tmp_path: Path) -> Container:
    environment.setenv("ROOMCAST_STORE", "memory")
    environment.setenv("ROOMCAST_JWKS_FILE", str(write_jwks(tmp_path / "jwks.json", RSA, EC)))
    environment.setenv("ROOMCAST_JWT_ISSUER", ISSUER)
    environment.setenv("ROOMCAST_JWT_CLIENT_ID", CLIENT_ID)
    return get_container()


def authorize(query: dict[str, str] | None = None, protocols: str | None = None) -> Any:
    event = events.authorizer_event(events.new_connection_id(), query, protocols)
    return handlers.authorize(event, None)


def connect(
    container: Container, query: dict[str, str] | None, authorizer: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str | None]:
    connection_id = events.new_connection_id()
    event = events.connect_event(connection_id, query)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    response = handlers.connect(event, None)
    stored = container.store().get(ConnectionId(connection_id))
    return response, stored.user_id.value if stored else None


def allowed(user: str) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": events.CONNECT_ARN}
    return {
        "principalId": user,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"userId": user},
    }


def denied() -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": events.CONNECT_ARN}
    return {
        "principalId": "unauthorized",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }


class TestTheAuthorizer:
    @pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
    def test_a_valid_token_is_allowed_with_its_subject_as_principal(
        self, with_jwks: Container, key: Any
    ) -> None:
        assert authorize({"userId": "mallory", "token": key.sign(GOOD)}) == allowed("alice")

    def test_a_token_in_sec_websocket_protocol_is_allowed(self, with_jwks: Container) -> None:
        assert authorize(protocols=f"roomcast, {EC.sign(GOOD)}") == allowed("alice")

    @pytest.mark.parametrize("make_token", REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
    def test_a_token_proving_nobody_is_denied(
        self, with_jwks: Container, make_token: Callable[[], str]
    ) -> None:
        assert authorize({"userId": "alice", "token": make_token()}) == denied()

    def test_no_token_is_denied_whatever_user_id_is_claimed(self, with_jwks: Container) -> None:
        assert authorize({"userId": "alice"}) == denied()
        assert authorize(protocols="roomcast") == denied()

    def test_without_keys_configured_the_authorizer_fails_loudly(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        with pytest.raises(ConfigurationError, match="ROOMCAST_JWKS_URL"):
            authorize({"token": RSA.sign(GOOD)})

    def test_an_hs256_secret_serves_the_authorizer_too(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        secret = "an-authorizer-secret-of-at-least-32-bytes"
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("ROOMCAST_JWT_SECRET", secret)
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, secret)
        assert authorize({"token": token}) == allowed("alice")
        assert authorize({"token": hs256_with_public_key(RSA, GOOD)}) == denied()

    def test_what_it_allows_is_who_the_connect_handler_records(
        self, with_jwks: Container
    ) -> None:
        answer = authorize({"token": RSA.sign(GOOD)})
        # API Gateway passes the policy's principalId and context on, flattened.
        authorizer = {"principalId": answer["principalId"], **answer["context"]}
        response, user = connect(with_jwks, {"userId": "mallory"}, authorizer)
        assert (response["statusCode"], user) == (200, "alice")


class TestTheConnectHandler:
    @pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
    def test_a_valid_token_connects_its_subject_not_the_claimed_user(
        self, with_jwks: Container, key: Any
    ) -> None:
        response, user = connect(with_jwks, {"userId": "mallory", "token": key.sign(GOOD)})
        assert (response, user) == ({"statusCode": 200, "body": "Connected"}, "alice")

    @pytest.mark.parametrize("make_token", REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
    def test_a_token_proving_nobody_answers_401_and_stores_nothing(
        self, with_jwks: Container, make_token: Callable[[], str]
    ) -> None:
        response, user = connect(with_jwks, {"userId": "alice", "token": make_token()})
        assert (response, user) == ({"statusCode": 401, "body": "Unauthorized"}, None)

    def test_no_token_answers_401_whatever_user_id_is_claimed(self, with_jwks: Container) -> None:
        response, user = connect(with_jwks, {"userId": "alice"})
        assert (response["statusCode"], user) == (401, None)

    def test_a_token_in_sec_websocket_protocol_connects_and_the_subprotocol_is_chosen(
        self, with_jwks: Container
    ) -> None:
        connection_id = events.new_connection_id()
        event = events.authorizer_event(connection_id, protocols=f"roomcast, {RSA.sign(GOOD)}")
        response = handlers.connect(event, None)
        assert response == {
            "statusCode": 200, "body": "Connected",
            "headers": {"Sec-WebSocket-Protocol": "roomcast"},
        }
        stored = with_jwks.store().get(ConnectionId(connection_id))
        assert stored is not None and stored.user_id.value == "alice"

    def test_a_jwks_server_that_cannot_be_reached_is_a_500_not_a_401(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("ROOMCAST_JWKS_URL", "http://127.0.0.1:9/jwks.json")
        response, user = connect(get_container(), {"token": RSA.sign(GOOD)})
        assert (response["statusCode"], user) == (500, None)


class TestRotationOverHttp:
    def test_a_new_kid_reloads_the_jwks_once_for_both_entrypoints(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        issuer, rotated = JwksServer(RSA), ec_key("ec-2")
        with issuer.running():
            environment.setenv("ROOMCAST_STORE", "memory")
            environment.setenv("ROOMCAST_JWKS_URL", issuer.url)
            environment.setenv("ROOMCAST_JWKS_MIN_REFRESH_SECONDS", "1")
            container = get_container()
            assert authorize({"token": RSA.sign({"sub": "alice"})}) == allowed("alice")
            issuer.document["keys"].append(rotated.public_jwk())
            time.sleep(1.05)
            assert authorize({"token": rotated.sign({"sub": "bob"})}) == allowed("bob")
            response, user = connect(container, {"token": rotated.sign({"sub": "carol"})})
            assert (response["statusCode"], user, issuer.fetches) == (200, "carol", 2)
