"""The chat page in a real headless Chromium: two pages in one room see each other."""

from __future__ import annotations

import re
import signal
import socket
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import (
    chromium,
    join_again,
    pages_in_room,
    require_chromium,
    say,
    senders,
    texts,
    two_pages_chat,
)
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
require_chromium()


class TestChatPage:
    def test_two_pages_in_a_room_see_each_others_messages(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            alice, bob = two_pages_chat(context, gateway.page_url, room)
            for page in (alice, bob):
                expect(senders(page)).to_have_text(["alice", "bob"])
                expect(texts(page)).to_have_text(
                    [
                        "Hi bob, the local gateway works!",
                        "Hello alice, same protocol as API Gateway.",
                    ]
                )
            expect(alice.locator("#log li.mine .text")).to_have_text([
                "Hi bob, the local gateway works!"
            ])

    def test_members_leaving_disappear_from_the_list(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            alice, bob = pages_in_room(context, gateway.page_url, room, "alice", "bob")
            expect(alice.locator("#members li")).to_have_count(2)
            bob.close()
            expect(alice.locator("#members li")).to_have_text(["alice (you)"])
            expect(texts(alice, "system").last).to_have_text("bob left")
            say(alice, "anyone?")
            expect(alice.locator("#log li.message")).to_have_count(1)

    @pytest.mark.parametrize("stop", ["graceful", "killed"])
    def test_the_page_comes_back_after_the_gateway_restarts(
        self, start: StartGateway, room: str, stop: str
    ) -> None:
        """A graceful stop closes every socket with 1001, as API Gateway does at 2 hours."""
        port = str(free_loopback_port())
        first = start("--port", port)
        with chromium() as context:
            alice, bob = pages_in_room(context, first.page_url, room, "alice", "bob")
            say(alice, "before")
            expect(texts(bob)).to_have_text(["before"])
            if stop == "graceful":
                first.stop()
            else:
                first.process.send_signal(signal.SIGKILL)
            expect(alice.locator("#status")).to_contain_text("Reconnecting")
            start("--port", port)
            for page in (alice, bob):
                expect(page.locator("#status")).to_have_text(
                    f"Connected as {page_user(page)}", timeout=30_000
                )
                expect(page.locator("#room-title")).to_have_text(f"#{room}")
            # The in-memory store started empty: what was said before is gone, and told.
            expect(texts(bob, "notice")).to_have_text(["Some messages could not be recovered"])
            expect(bob.locator("#members li")).to_contain_text(["bob (you)"])
            say(alice, "after")
            expect(texts(bob)).to_have_text(["before", "after"])
            # Both rejoined, in whichever order they came back.
            expect(alice.locator("#members li")).to_have_count(2)
            expect(alice.locator("#members li", has_text="alice (you)")).to_have_count(1)

    def test_each_room_keeps_its_own_log(self, gateway: GatewayProcess, room: str) -> None:
        other = f"{room}-other"
        with chromium() as context:
            (alice,) = pages_in_room(context, gateway.page_url, room, "alice")
            say(alice, "in the first room")
            expect(texts(alice)).to_have_text(["in the first room"])
            join_again(alice, "alice", other)
            expect(texts(alice, "system")).to_have_text([f"You joined #{other}"])
            say(alice, "in the other room")
            expect(texts(alice)).to_have_text(["in the other room"])
            join_again(alice, "alice", room)
            expect(texts(alice)).to_have_text(["in the first room"])
            expect(texts(alice, "system")).to_have_text(
                [f"You joined #{room}", f"You left #{room}", f"You joined #{room}"]
            )

    def test_every_line_shows_the_time_it_happened(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            (alice,) = pages_in_room(context, gateway.page_url, room, "alice")
            say(alice, "what time is it?")
            expect(texts(alice)).to_have_count(1)
            times = alice.locator("#log li time")
            expect(times).to_have_count(2)
            for stamp in times.all():
                expect(stamp).to_have_text(re.compile(r"^\d\d:\d\d$"))
                shown = datetime.fromisoformat(stamp.get_attribute("datetime") or "")
                assert abs((datetime.now(UTC) - shown).total_seconds()) < 60

    def test_another_connection_with_my_name_is_told_apart(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            mine, twin = pages_in_room(context, gateway.page_url, room, "alice", "alice")
            expect(mine.locator("#members li")).to_have_text(
                ["alice (you)", "alice (another connection)"]
            )
            expect(texts(mine, "system").last).to_have_text("alice (another connection) joined")
            say(mine, "from this tab")
            say(twin, "from the other tab")
            expect(senders(mine)).to_have_text(["alice", "alice (another connection)"])
            expect(mine.locator("#log li.mine .text")).to_have_text(["from this tab"])
            expect(twin.locator("#log li.mine .text")).to_have_text(["from the other tab"])


def page_user(page: Page) -> str:
    return page.locator("#name").input_value()


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
