"""The HS256 secret read from SSM Parameter Store or Secrets Manager, once per process (moto)."""

from __future__ import annotations

import time
from collections.abc import Callable

import boto3
import jwt
import pytest

from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import get_container
from tests.support import events
from tests.support.events import REGION

SECRET = "a-secret-kept-in-a-secret-store-32-bytes+"
ROTATED = "a-rotated-secret-in-the-secret-store-32b+"


def token_for(user: str, secret: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 60}, secret, algorithm="HS256")


def store_in_ssm(value: str) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/roomcast/jwt", Value=value, Type="SecureString", Overwrite=True
    )


def store_in_secrets_manager(value: str) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    try:
        client.put_secret_value(SecretId="roomcast/jwt", SecretString=value)
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name="roomcast/jwt", SecretString=value)


STORES: dict[str, tuple[str, str, Callable[[str], None]]] = {
    "ssm": ("ROOMCAST_JWT_SECRET_PARAMETER", "/roomcast/jwt", store_in_ssm),
    "secretsmanager": ("ROOMCAST_JWT_SECRET_ID", "roomcast/jwt", store_in_secrets_manager),
}


@pytest.fixture(params=sorted(STORES))
def secret_store(
    request: pytest.FixtureRequest, aws: None, environment: pytest.MonkeyPatch
) -> Callable[[str], None]:
    variable, name, put = STORES[request.param]
    environment.setenv("ROOMCAST_STORE", "memory")
    environment.setenv(variable, name)
    return put


def connect(query: dict[str, str]) -> tuple[int, str | None]:
    connection_id = events.new_connection_id()
    response = handlers.connect(events.connect_event(connection_id, query), None)
    stored = get_container().store().get(ConnectionId(connection_id))
    return response["statusCode"], stored.user_id.value if stored else None


class TestSecretStores:
    def test_tokens_signed_with_the_stored_secret_connect_their_subject(
        self, secret_store: Callable[[str], None]
    ) -> None:
        secret_store(SECRET)
        assert connect({"userId": "mallory", "token": token_for("alice", SECRET)}) == (
            200, "alice")
        assert connect({"token": token_for("alice", "x" * 40)}) == (401, None)
        assert connect({"userId": "alice"}) == (401, None)

    def test_the_secret_is_read_once_per_execution_environment(
        self, secret_store: Callable[[str], None]
    ) -> None:
        secret_store(SECRET)
        assert connect({"token": token_for("alice", SECRET)}) == (200, "alice")
        secret_store(ROTATED)
        assert connect({"token": token_for("bob", SECRET)}) == (200, "bob")
        assert connect({"token": token_for("carol", ROTATED)}) == (401, None)

    def test_a_short_stored_secret_is_a_misconfiguration(
        self, secret_store: Callable[[str], None]
    ) -> None:
        secret_store("short")
        assert connect({"token": token_for("alice", SECRET)}) == (500, None)

    def test_a_missing_secret_is_a_misconfiguration(
        self, secret_store: Callable[[str], None]
    ) -> None:
        assert connect({"token": token_for("alice", SECRET)}) == (500, None)
