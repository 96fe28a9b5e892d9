"""The chat page's Token field: a pasted token connects its subject; a refusal says what to do."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import chromium, require_chromium, texts
from tests.e2e.conftest import StartGateway
from tests.support.identity import rsa_key, write_jwks

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
require_chromium()

SECRET = "e2e-token-field-secret-of-at-least-32-bytes"


def join_with_token(page: Page, name: str, room: str, token: str) -> None:
    page.fill("#name", name)
    page.fill("#room", room)
    page.fill("#token", token)
    page.click("#join")


class TestTokenField:
    def test_a_token_pasted_in_the_field_connects_and_a_forged_one_is_explained(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_JWT_SECRET": SECRET})
        forged = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "x" * 40, "HS256")
        good = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET, "HS256")
        with chromium() as context:
            page = context.new_page()
            page.goto(gateway.page_url)
            join_with_token(page, "alice", room, forged)
            expect(page.locator("#status")).to_have_text("Connection refused")
            expect(texts(page, "error")).to_contain_text(["roomcast token --sub alice"])
            page.fill("#token", good)
            page.click("#join")
            expect(page.locator("#status")).to_have_text("Connected as alice")
            expect(page.locator("#members li")).to_have_text(["alice (you)"])

    def test_the_page_is_who_the_server_recorded_not_the_name_typed(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_JWT_SECRET": SECRET})
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET, "HS256")
        with chromium() as context:
            page = context.new_page()
            page.goto(f"{gateway.page_url}?token={token}")
            join_with_token(page, "bob-typed", room, token)
            expect(page.locator("#status")).to_have_text("Connected as alice")
            expect(page.locator("#members li")).to_have_text(["alice (you)"])
            page.fill("#message", "mine")
            page.click("#send")
            expect(page.locator("#log li.mine .text")).to_have_text(["mine"])

    def test_a_token_in_the_pages_address_fills_the_field(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_JWT_SECRET": SECRET})
        token = jwt.encode({"sub": "bob", "exp": int(time.time()) + 60}, SECRET, "HS256")
        with chromium() as context:
            page = context.new_page()
            page.goto(f"{gateway.page_url}?token={token}")
            expect(page.locator("#token")).to_have_value(token)


class TestTokenInTheSubprotocol:
    def test_with_the_authorizer_reading_the_protocol_the_page_keeps_the_token_out_of_the_url(
        self, start: StartGateway, room: str, tmp_path: Path
    ) -> None:
        key = rsa_key("page-1")
        gateway = start(
            "--parameter-overrides", "Authentication=authorizer",
            "AuthorizerTokenSource=protocol",
            env={"ROOMCAST_JWKS_FILE": str(write_jwks(tmp_path / "jwks.json", key))},
        )
        token = key.sign({"sub": "alice"})
        with chromium() as context:
            page = context.new_page()
            opened: list[str] = []
            page.on("websocket", lambda socket: opened.append(socket.url))
            page.goto(gateway.page_url)
            join_with_token(page, "alice", room, token)
            expect(page.locator("#status")).to_have_text("Connected as alice")
            expect(page.locator("#members li")).to_have_text(["alice (you)"])
        assert opened and all(token not in url for url in opened)
