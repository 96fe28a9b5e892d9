"""`roomcast serve --parameter-overrides RoomAccess=token`: over real sockets, on both stores, a
user reaches exactly the rooms their token grants, through the handler's own check (HS256)
and through the template's authorizer (JWKS)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from websockets.exceptions import InvalidStatus

from roomcast_client import RoomcastClient
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.e2e.support import assert_nothing_more, async_test, next_frame
from tests.support.identity import rsa_key, write_jwks

pytestmark = pytest.mark.e2e

SECRET = "e2e-room-access-secret-of-32-bytes!"
TOKEN_ACCESS = ("--parameter-overrides", "RoomAccess=token")
NOT_ALLOWED = "Not allowed in this room"
EVERYWHERE = {"*": ["join", "send"]}


def token_for(user: str, rooms: Any = None) -> str:
    claims: dict[str, Any] = {"sub": user, "exp": int(time.time()) + 300}
    if rooms is not None:
        claims["rooms"] = rooms
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture(scope="module", params=["memory", "dynamodb"])
def guarded(
    request: pytest.FixtureRequest, e2e_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """One token-access gateway per store; the handler checks HS256 tokens itself."""
    env = {"ROOMCAST_JWT_SECRET": SECRET}
    store: tuple[str, ...] = ()
    if request.param == "dynamodb":
        env |= request.getfixturevalue("dynamodb_settings")
        store = ("--store", "dynamodb")
    running = start_gateway(
        "--template", str(e2e_template), *store, *TOKEN_ACCESS, env=env,
        event_log=tmp_path_factory.mktemp("room-access") / "events.jsonl",
    )
    yield running
    running.stop()


def client(gateway: GatewayProcess, token: str, user_id: str | None = None) -> RoomcastClient:
    query = {"token": token} | ({"userId": user_id} if user_id else {})
    return RoomcastClient(gateway.websocket_url, query)


async def expect(member: RoomcastClient, **fields: Any) -> dict[str, Any]:
    frame = await next_frame(member)
    assert {k: frame.get(k) for k in fields} == fields, frame
    return frame


async def refused(member: RoomcastClient) -> None:
    frame = await next_frame(member)
    assert (frame["action"], frame["message"]) == ("error", NOT_ALLOWED), frame


class TestJoining:
    @async_test
    async def test_a_user_reaches_exactly_the_rooms_the_token_grants(
        self, guarded: GatewayProcess, room: str
    ) -> None:
        rooms = {f"{room}-a": ["join", "send"], f"{room}-news-*": ["join"]}
        async with client(guarded, token_for("alice", rooms)) as alice:
            await alice.join_room(f"{room}-a")
            await expect(alice, action="joinedRoom", roomId=f"{room}-a", members=["alice"])
            await alice.join_room(f"{room}-news-today")  # one room at a time: leaves -a
            await expect(alice, action="leftRoom", roomId=f"{room}-a")
            await expect(alice, action="joinedRoom", roomId=f"{room}-news-today")
            for outside in (f"{room}-b", f"{room}-news", "general"):
                await alice.join_room(outside)
                await refused(alice)
            await alice.ping()  # still connected, still in the room it had
            await alice.send_message(f"{room}-news-today", "hello?")
            await refused(alice)
            await assert_nothing_more(alice)

    @async_test
    async def test_a_refused_join_is_heard_by_nobody_and_leaves_no_membership(
        self, guarded: GatewayProcess, room: str
    ) -> None:
        async with (
            client(guarded, token_for("owner", EVERYWHERE)) as owner,
            client(guarded, token_for("mallory", {"lobby": ["join"]})) as mallory,
            client(guarded, token_for("bob", EVERYWHERE)) as bob,
        ):
            await owner.join_room(room)
            await expect(owner, action="joinedRoom", memberCount=1)
            await mallory.join_room(room)
            await refused(mallory)
            await assert_nothing_more(owner, mallory)
            await bob.join_room(room)  # mallory still connected, and not among the members
            await expect(bob, action="joinedRoom", members=["owner", "bob"], memberCount=2)

    @async_test
    async def test_a_join_with_since_replays_nothing_of_a_room_not_granted(
        self, guarded: GatewayProcess, room: str
    ) -> None:
        async with client(guarded, token_for("owner", EVERYWHERE)) as owner:
            await owner.join_room(room)
            await expect(owner, action="joinedRoom")
            await owner.send_message(room, "the code is 1234")
            await expect(owner, action="message", message="the code is 1234")
        async with client(guarded, token_for("mallory", {})) as mallory:
            await mallory.send("joinRoom", roomId=room, since=0)
            await refused(mallory)
            await assert_nothing_more(mallory)
        async with client(guarded, token_for("reader", {room: ["join"]})) as reader:
            await reader.send("joinRoom", roomId=room, since=0)
            await expect(reader, action="joinedRoom", replayed=1)
            await expect(reader, action="message", message="the code is 1234")


class TestSending:
    @async_test
    async def test_a_room_granted_without_send_refuses_and_the_room_hears_nothing(
        self, guarded: GatewayProcess, room: str
    ) -> None:
        async with (
            client(guarded, token_for("host", EVERYWHERE)) as host,
            client(guarded, token_for("listener", {room: ["join"]})) as listener,
        ):
            await host.join_room(room)
            await expect(host, action="joinedRoom")
            await listener.join_room(room)
            await expect(listener, action="joinedRoom", memberCount=2)
            await expect(host, action="userJoined", userId="listener")
            await listener.send_message(room, "may I?")
            await refused(listener)
            await assert_nothing_more(host, listener)
            await host.send_message(room, "you may listen")
            for member in (host, listener):
                await expect(member, action="message", message="you may listen", seq=1)


class TestWhatGrantsNothing:
    @async_test
    async def test_a_token_without_the_claim_reaches_no_room(
        self, guarded: GatewayProcess, room: str
    ) -> None:
        async with client(guarded, token_for("plain")) as plain:
            await plain.join_room(room)
            await refused(plain)

    @async_test
    async def test_frames_carrying_their_own_rooms_or_user_grant_nothing(
        self, guarded: GatewayProcess, room: str
    ) -> None:
        async with client(guarded, token_for("mallory", {room: ["join"]}), "admin") as mallory:
            await mallory.send("joinRoom", roomId=f"{room}-vault", rooms=EVERYWHERE,
                               userId="admin", grant=EVERYWHERE)
            await refused(mallory)
            await mallory.send("joinRoom", roomId=room, rooms=EVERYWHERE, userId="admin")
            await expect(mallory, action="joinedRoom", userId="mallory", members=["mallory"])
            await mallory.send("sendMessage", roomId=room, message="hi", rooms=EVERYWHERE,
                               userId="admin", sender="admin")
            await refused(mallory)

    @async_test
    async def test_a_malformed_claim_refuses_the_handshake_with_401(
        self, guarded: GatewayProcess
    ) -> None:
        for rooms in ({"team a": ["join"]}, {"team-a": ["join", "admin"]}, ["team-a"]):
            with pytest.raises(InvalidStatus) as refusal:
                await client(guarded, token_for("alice", rooms)).connect()
            assert refusal.value.response.status_code == 401


class TestThroughTheAuthorizer:
    @async_test
    async def test_the_authorizers_context_carries_the_grant_to_every_frame(
        self, e2e_template: Path, tmp_path: Path, room: str
    ) -> None:
        key = rsa_key("access-1")
        gateway = start_gateway(
            "--template", str(e2e_template), "--parameter-overrides", "RoomAccess=token",
            "Authentication=authorizer",
            env={"ROOMCAST_JWKS_FILE": str(write_jwks(tmp_path / "jwks.json", key))},
            event_log=tmp_path / "events.jsonl",
        )
        try:
            token = key.sign({"sub": "alice", "rooms": {f"{room}-*": ["join"]}})
            async with client(gateway, token) as alice:
                await alice.join_room(f"{room}-news")
                await expect(alice, action="joinedRoom", members=["alice"])
                await alice.send_message(f"{room}-news", "hi")
                await refused(alice)
                await alice.join_room("elsewhere")
                await refused(alice)
            contexts = [e["requestContext"].get("authorizer") for e in gateway.events()
                        if e.get("requestContext", {}).get("eventType") == "MESSAGE"]
            assert contexts and all(
                c == {"principalId": "alice", "userId": "alice",
                      "rooms": '{"' + room + '-*":["join"]}'} for c in contexts)
            forged = key.sign({"sub": "alice", "rooms": {"*": ["join", "fly"]}})
            with pytest.raises(InvalidStatus) as refusal:
                await client(gateway, forged).connect()
            assert refusal.value.response.status_code == 403
        finally:
            gateway.stop()
