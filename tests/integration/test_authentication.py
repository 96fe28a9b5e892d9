"""$connect with ROOMCAST_JWT_SECRET set: the token proves the user, or the handshake is refused."""

from __future__ import annotations

import logging
import time

import jwt
import pytest

from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import Container, get_container
from tests.support import events

SECRET = "integration-secret-of-at-least-32-bytes"


def token_for(user: str, secret: str = SECRET) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 60}, secret, algorithm="HS256")


@pytest.fixture
def authenticated(
    environment: pytest.MonkeyPatch, table: str, store_kind: str
) -> Container:
    environment.setenv("CONNECTIONS_TABLE", table)
    environment.setenv("ROOMCAST_STORE", store_kind)
    environment.setenv("ROOMCAST_NOTIFIER", "sync")
    environment.setenv("ROOMCAST_JWT_SECRET", SECRET)
    return get_container()


def connect(query: dict[str, str] | None) -> tuple[str, dict[str, object]]:
    connection_id = events.new_connection_id()
    return connection_id, handlers.connect(events.connect_event(connection_id, query), None)


class TestAuthenticatedConnect:
    def test_the_user_is_the_tokens_subject_not_the_user_id_parameter(
        self, authenticated: Container
    ) -> None:
        connection_id, response = connect({"userId": "mallory", "token": token_for("alice")})
        assert response == {"statusCode": 200, "body": "Connected"}
        stored = authenticated.store().get(ConnectionId(connection_id))
        assert stored is not None and stored.user_id.value == "alice"

    @pytest.mark.parametrize(
        "query",
        [None, {"userId": "alice"}, {"token": ""}, {"token": "not-a-jwt"},
         {"token": token_for("alice", secret="another-secret-of-at-least-32-bytes!")}],
        ids=["no query", "no token", "empty token", "garbage", "wrong secret"],
    )
    def test_a_missing_or_invalid_token_answers_401_and_stores_nothing(
        self, authenticated: Container, query: dict[str, str] | None
    ) -> None:
        connection_id, response = connect(query)
        assert response == {"statusCode": 401, "body": "Unauthorized"}
        assert authenticated.store().get(ConnectionId(connection_id)) is None

    @pytest.mark.parametrize(
        "subject", ["\udc80", "x" * 129, "alice\u202e", "bob\x00"],
        ids=["lone surrogate", "129 bytes", "bidi override", "NUL"],
    )
    def test_a_token_whose_subject_breaks_the_user_id_rule_answers_401(
        self, authenticated: Container, subject: str
    ) -> None:
        connection_id, response = connect({"token": token_for(subject)})
        assert response == {"statusCode": 401, "body": "Unauthorized"}
        assert authenticated.store().get(ConnectionId(connection_id)) is None

    def test_a_refused_token_is_not_logged(
        self, authenticated: Container, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        forged = token_for("alice", secret="another-secret-of-at-least-32-bytes!")
        connect({"token": forged})
        assert caplog.records
        assert forged not in caplog.text


class TestUnauthenticatedConnect:
    @pytest.mark.parametrize(
        "user_id", ["\udc80", "x" * 5000, "alice\u202e", "bob\x00", "line\nbreak"],
        ids=["lone surrogate", "5000 characters", "bidi override", "NUL", "newline"],
    )
    def test_a_user_id_breaking_the_rule_answers_400_and_stores_nothing(
        self, deployed: Container, user_id: str
    ) -> None:
        connection_id, response = connect({"userId": user_id})
        assert response == {
            "statusCode": 400,
            "body": "Invalid userId: use 1-128 bytes of UTF-8 without control or format characters",
        }
        assert deployed.store().get(ConnectionId(connection_id)) is None


class TestLambdaAuthorizer:
    """With an authorizer in front, API Gateway passes its principalId in requestContext."""

    @staticmethod
    def connect_authorized(principal: str, query: dict[str, str]) -> tuple[str, object]:
        connection_id = events.new_connection_id()
        event = events.connect_event(connection_id, query)
        event["requestContext"]["authorizer"] = {"principalId": principal, "plan": "gold"}
        return connection_id, handlers.connect(event, None)

    def test_the_user_is_the_authorizers_principal_not_the_user_id_parameter(
        self, deployed: Container
    ) -> None:
        connection_id, response = self.connect_authorized("carol", {"userId": "mallory"})
        assert response == {"statusCode": 200, "body": "Connected"}
        stored = deployed.store().get(ConnectionId(connection_id))
        assert stored is not None and stored.user_id.value == "carol"

    def test_a_principal_breaking_the_user_id_rule_answers_401_and_stores_nothing(
        self, deployed: Container
    ) -> None:
        connection_id, response = self.connect_authorized("carol\u202e", {})
        assert response == {"statusCode": 401, "body": "Unauthorized"}
        assert deployed.store().get(ConnectionId(connection_id)) is None


class TestSecretConfiguration:
    def test_a_short_secret_is_refused_naming_the_variable(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("ROOMCAST_JWT_SECRET", "short")
        with pytest.raises(ValueError, match="ROOMCAST_JWT_SECRET"):
            get_container()
