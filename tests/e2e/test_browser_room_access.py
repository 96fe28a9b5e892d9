"""The chat page with RoomAccess=token: a room the token does not grant is refused plainly,
and the page does not think it joined."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import chromium, require_chromium, say, texts
from tests.e2e.conftest import StartGateway
from tests.e2e.support import connection_id_of, management_client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
require_chromium()

SECRET = "e2e-page-room-access-secret-of-32-bytes"


class TestARefusedRoom:
    def test_the_page_says_so_and_stays_where_it_was(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start("--parameter-overrides", "RoomAccess=token",
                        env={"ROOMCAST_JWT_SECRET": SECRET})
        rooms = {room: ["join", "send"], f"{room}-news": ["join"]}
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 300, "rooms": rooms},
                           SECRET, "HS256")
        with chromium() as context:
            page = context.new_page()
            page.goto(f"{gateway.page_url}?token={token}")
            page.fill("#name", "alice")
            page.fill("#room", "vault")
            page.click("#join")
            expect(texts(page, "error")).to_have_text(
                ["You may not enter #vault: your token does not grant it."])
            expect(page.locator("#room-title")).to_have_text("No room")
            expect(page.locator("body")).not_to_have_class("joined")
            say(page, "anyone?")
            expect(page.locator("#send-problem")).to_contain_text("Join a room first")

            page.fill("#room", room)
            page.click("#join")
            expect(page.locator("#room-title")).to_have_text(f"#{room}")
            say(page, "hello")
            expect(page.locator("#log li.mine .text")).to_have_text(["hello"])

            page.fill("#room", "vault")
            page.click("#join")
            # Said in the log on screen, the room's: the page is still in it.
            expect(texts(page, "error")).to_have_text(
                ["You may not enter #vault: your token does not grant it."])
            expect(page.locator("#room-title")).to_have_text(f"#{room}")
            # A reconnect rejoins the rooms the page is in, never the one it was refused.
            management_client(gateway).delete_connection(
                ConnectionId=connection_id_of(gateway, "alice"))
            expect(page.locator("#log li.system").last).to_have_text(
                re.compile(f"Back in #{room}"), timeout=15_000)
            say(page, "still here")
            expect(page.locator("#log li.mine .text")).to_have_text(["hello", "still here"])
            expect(texts(page, "error")).to_have_count(1)

            page.fill("#room", f"{room}-news")
            page.click("#join")
            expect(page.locator("#room-title")).to_have_text(f"#{room}-news")
            say(page, "may I?")
            expect(texts(page, "error").last).to_have_text(
                f"You may not send messages in #{room}-news: your token does not grant it.")
            expect(page.locator("#log li.message")).to_have_count(0)
