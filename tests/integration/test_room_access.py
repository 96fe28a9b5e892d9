"""ROOMCAST_ROOM_ACCESS through the Lambda handlers under moto, on both stores: the grant comes
from an HS256 token, a JWKS token or the authorizer's context, is kept with the connection,
and decides every join and send; `open` behaves as before grants existed."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from roomcast.domain.model import ConnectionId, RoomId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import Container, get_container, reset_container
from roomcast.entrypoints.settings import ConfigurationError
from tests.integration.harness import Gateway, moto_frames, table_items
from tests.support import events
from tests.support.identity import rsa_key, write_jwks

SECRET = "integration-room-access-secret-32-bytes"
RSA = rsa_key("rooms-1")
ALICE_ROOMS = {"team-a": ["join", "send"], "news-*": ["join"]}
NOT_ALLOWED = {"statusCode": 403, "body": "Not allowed in this room"}
OK_JOIN = {"statusCode": 200, "body": "Joined room"}
OK_SEND = {"statusCode": 200, "body": "Message sent"}


def hs256(user: str, **claims: Any) -> str:
    """`rooms=...` adds the claim, `rooms=None` included (JSON's null)."""
    body = {"sub": user, "exp": int(time.time()) + 60, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


def rs256(user: str, **claims: Any) -> str:
    return RSA.sign({"sub": user, **claims})


@pytest.fixture
def configure(
    environment: pytest.MonkeyPatch, table: str, store_kind: str, tmp_path: Path
) -> Any:
    """Deploy-like settings for one store, plus the ones a test names."""

    def with_settings(**settings: str) -> Container:
        environment.setenv("CONNECTIONS_TABLE", table)
        environment.setenv("ROOMCAST_STORE", store_kind)
        environment.setenv("ROOMCAST_NOTIFIER", "sync")
        for name, value in settings.items():
            environment.setenv(name, value)
        return get_container()

    return with_settings


@pytest.fixture(params=["hs256", "jwks"])
def signed(request: pytest.FixtureRequest, configure: Any, tmp_path: Path) -> Any:
    """Token access with the handler checking tokens itself: an HS256 secret or a JWKS."""
    if request.param == "hs256":
        configure(ROOMCAST_ROOM_ACCESS="token", ROOMCAST_JWT_SECRET=SECRET)
        return hs256
    jwks = write_jwks(tmp_path / "jwks.json", RSA)
    configure(ROOMCAST_ROOM_ACCESS="token", ROOMCAST_JWKS_FILE=str(jwks))
    return rs256


def connect(token: str | None = None, authorizer: dict[str, Any] | None = None,
            **query: str) -> tuple[str, dict[str, Any]]:
    connection_id = events.new_connection_id()
    if token is not None:
        query["token"] = token
    event = events.connect_event(connection_id, query)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return connection_id, handlers.connect(event, None)


def connected(token: str | None = None, **options: Any) -> str:
    connection_id, response = connect(token, **options)
    assert response == {"statusCode": 200, "body": "Connected"}, response
    return connection_id


def memberships(table: str, store_kind: str, room: str) -> set[str]:
    if store_kind == "memory":
        return {m.connection_id.value for m in get_container().store().members(RoomId(room))}
    return {item["connectionId"]["S"] for item in table_items(table)
            if item["pk"]["S"] == f"ROOM#{room}" and item["sk"]["S"].startswith("CONN#")}


class TestTokensInTheHandler:
    def test_a_user_reaches_exactly_the_rooms_the_token_grants(self, signed: Any) -> None:
        gateway = Gateway(moto_frames)
        alice = connected(signed("alice", rooms=ALICE_ROOMS), userId="mallory")
        assert gateway.join(alice, "team-a") == OK_JOIN
        assert gateway.send(alice, {"action": "sendMessage", "roomId": "team-a",
                                    "message": "hi"}) == OK_SEND
        assert gateway.join(alice, "news-today") == OK_JOIN
        for outside in ("team-b", "news", "general"):
            assert gateway.join(alice, outside) == NOT_ALLOWED
        assert gateway.send(alice, {"action": "sendMessage", "roomId": "news-today",
                                    "message": "hi"}) == NOT_ALLOWED
        errors = [f for f in gateway.new_frames(alice) if f["action"] == "error"]
        assert [f["message"] for f in errors] == ["Not allowed in this room"] * 4

    def test_a_refused_join_stores_nothing_and_the_room_hears_nothing(
        self, signed: Any, table: str, store_kind: str
    ) -> None:
        gateway = Gateway(moto_frames)
        owner = connected(signed("owner", rooms={"*": ["join", "send"]}))
        gateway.join(owner, "vault")
        gateway.new_frames(owner)
        mallory = connected(signed("mallory", rooms={"lobby": ["join"]}))
        assert gateway.join(mallory, "vault") == NOT_ALLOWED
        assert memberships(table, store_kind, "vault") == {owner}
        assert get_container().store().get(ConnectionId(mallory)).rooms == {}
        assert gateway.new_frames(owner) == []

    def test_a_token_without_the_claim_reaches_no_room(self, signed: Any) -> None:
        gateway = Gateway(moto_frames)
        plain = connected(signed("plain"))
        assert gateway.join(plain, "general") == NOT_ALLOWED

    @pytest.mark.parametrize(
        "rooms", [{"team a": ["join"]}, {"team-a": ["join", "admin"]}, ["team-a"], "*", None],
        ids=["bad pattern", "unknown permission", "list", "string", "null"],
    )
    def test_a_malformed_claim_is_401_and_nothing_stored(
        self, signed: Any, rooms: Any, table: str, store_kind: str
    ) -> None:
        connection_id, response = connect(signed("alice", rooms=rooms))
        assert response == {"statusCode": 401, "body": "Unauthorized"}
        assert get_container().store().get(ConnectionId(connection_id)) is None
        if store_kind == "dynamodb":
            assert table_items(table) == []

    def test_the_grant_is_kept_with_the_connection_and_membership(
        self, signed: Any, table: str, store_kind: str
    ) -> None:
        gateway = Gateway(moto_frames)
        alice = connected(signed("alice", rooms=ALICE_ROOMS))
        gateway.join(alice, "news-today")
        stored = get_container().store().get(ConnectionId(alice))
        assert stored.grant.as_claim() == ALICE_ROOMS
        if store_kind == "dynamodb":
            [item] = [i for i in table_items(table) if i["sk"]["S"] == "CONNECTION"]
            assert set(item["grant"]["M"]) == {"team-a", "news-*"}


class TestTheAuthorizersContext:
    @pytest.fixture
    def behind_the_authorizer(self, configure: Any, tmp_path: Path) -> None:
        """The authorizer function has the keys; the connect function, as deployed, none."""
        configure(ROOMCAST_ROOM_ACCESS="token",
                  ROOMCAST_JWKS_FILE=str(write_jwks(tmp_path / "jwks.json", RSA)))

    def authorize(self, token: str) -> dict[str, Any]:
        event = events.authorizer_event(events.new_connection_id(), {"token": token})
        return dict(handlers.authorize(event, None))

    def test_the_authorizer_puts_the_grant_in_its_context_as_json(
        self, behind_the_authorizer: None
    ) -> None:
        answer = self.authorize(rs256("alice", rooms=ALICE_ROOMS))
        assert answer["context"] == {
            "userId": "alice", "rooms": '{"news-*":["join"],"team-a":["join","send"]}'}
        assert "rooms" not in self.authorize(rs256("bob"))["context"]

    def test_a_malformed_claim_is_denied(self, behind_the_authorizer: None) -> None:
        answer = self.authorize(rs256("alice", rooms={"team-a": ["fly"]}))
        assert answer["principalId"] == "unauthorized"
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"

    def test_the_connect_handler_without_keys_keeps_the_context_grant(
        self, behind_the_authorizer: None, environment: pytest.MonkeyPatch,
        configure: Any,
    ) -> None:
        answer = self.authorize(rs256("alice", rooms=ALICE_ROOMS))
        # The connect function gets no keys behind the authorizer (template), only its answer.
        environment.delenv("ROOMCAST_JWKS_FILE")
        reset_container()
        configure(ROOMCAST_ROOM_ACCESS="token")
        gateway = Gateway(moto_frames)
        authorizer = {"principalId": answer["principalId"], **answer["context"]}
        alice = connected(authorizer=authorizer, userId="mallory")
        assert gateway.join(alice, "team-a") == OK_JOIN
        assert gateway.join(alice, "vault") == NOT_ALLOWED
        # Every later event carries the context too: it grants nothing more than the store.
        forged = events.message_event(alice, {"action": "joinRoom", "roomId": "vault"})
        forged["requestContext"]["authorizer"] = {"principalId": "alice",
                                                  "rooms": '{"*":["join","send"]}'}
        assert handlers.message(forged, None) == NOT_ALLOWED

    @pytest.mark.parametrize("rooms", ['{"team-a":"join"}', "{not json", 7])
    def test_a_context_that_is_no_grant_is_401(self, configure: Any, rooms: Any) -> None:
        configure(ROOMCAST_ROOM_ACCESS="token")
        connection_id, response = connect(authorizer={"principalId": "alice", "rooms": rooms})
        assert response == {"statusCode": 401, "body": "Unauthorized"}
        assert get_container().store().get(ConnectionId(connection_id)) is None


class TestConfiguration:
    def test_token_access_without_keys_or_authorizer_is_500_naming_both_settings(
        self, configure: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        configure(ROOMCAST_ROOM_ACCESS="token")
        caplog.set_level(logging.ERROR)
        connection_id, response = connect(userId="alice")
        assert response == {"statusCode": 500, "body": "Server misconfigured"}
        assert "ROOMCAST_ROOM_ACCESS=token" in caplog.text
        assert "ROOMCAST_JWT_SECRET" in caplog.text
        assert get_container().store().get(ConnectionId(connection_id)) is None

    def test_an_unknown_mode_fails_naming_the_variable(self, configure: Any) -> None:
        with pytest.raises(ConfigurationError, match="ROOMCAST_ROOM_ACCESS must be one of"):
            configure(ROOMCAST_ROOM_ACCESS="closed")


class TestOpenAccess:
    def test_by_default_every_room_is_open_whatever_the_token_grants(self, configure: Any) -> None:
        configure(ROOMCAST_JWT_SECRET=SECRET)
        gateway = Gateway(moto_frames)
        alice = connected(hs256("alice", rooms={"team-a": ["join"]}))
        bob = connected(hs256("bob"))
        for user in (alice, bob):
            assert gateway.join(user, "general") == OK_JOIN
        assert gateway.send(alice, {"action": "sendMessage", "roomId": "general",
                                    "message": "hi"}) == OK_SEND
        assert get_container().store().get(ConnectionId(alice)).grant.as_claim() == {}

    def test_a_malformed_claim_is_401_in_open_mode_too(self, configure: Any) -> None:
        configure(ROOMCAST_JWT_SECRET=SECRET)
        _, response = connect(hs256("alice", rooms={"team a": ["join"]}))
        assert response["statusCode"] == 401
