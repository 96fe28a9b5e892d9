"""The chat page's Token field: a pasted token connects its subject; a refusal says what to do."""

from __future__ import annotations

import time

import jwt
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import chromium, require_chromium, texts
from tests.e2e.conftest import StartGateway

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
require_chromium()

SECRET = "e2e-token-field-secret-of-at-least-32-bytes"


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
            page.fill("#name", "alice")
            page.fill("#room", room)
            page.fill("#token", forged)
            page.click("#join")
            expect(page.locator("#status")).to_have_text("Connection refused")
            expect(texts(page, "error")).to_contain_text(["roomcast token --sub alice"])
            page.fill("#token", good)
            page.click("#join")
            expect(page.locator("#status")).to_have_text("Connected as alice")
            expect(page.locator("#members li")).to_have_text(["alice (you)"])

    def test_a_token_in_the_pages_address_fills_the_field(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_JWT_SECRET": SECRET})
        token = jwt.encode({"sub": "bob", "exp": int(time.time()) + 60}, SECRET, "HS256")
        with chromium() as context:
            page = context.new_page()
            page.goto(f"{gateway.page_url}?token={token}")
            expect(page.locator("#token")).to_have_value(token)
