"""The chat page in a real headless Chromium: two pages in one room see each other."""

from __future__ import annotations

import os
import signal
import socket

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import CHROMIUM, chromium, join, say, two_pages_chat
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

if not CHROMIUM.exists():
    # `make test` installs Debian's chromium first; in CI a missing browser is a failure.
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test`, which installs it")
    pytest.skip(f"{CHROMIUM} is missing (`make test` installs it)", allow_module_level=True)


class TestChatPage:
    def test_two_pages_in_a_room_see_each_others_messages(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            alice, bob = two_pages_chat(context, gateway.page_url, room)
            for page in (alice, bob):
                expect(page.locator("#log li.message")).to_have_text(
                    [
                        "alice Hi bob, the local gateway works!",
                        "bob Hello alice, same protocol as API Gateway.",
                    ]
                )

    def test_members_leaving_disappear_from_the_list(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            alice, bob = context.new_page(), context.new_page()
            join(alice, gateway.page_url, "alice", room)
            join(bob, gateway.page_url, "bob", room)
            expect(alice.locator("#members li")).to_have_count(2)
            bob.close()
            expect(alice.locator("#members li")).to_have_text(["alice (you)"])
            expect(alice.locator("#log li.system").last).to_have_text("bob left")
            say(alice, "anyone?")
            expect(alice.locator("#log li.message")).to_have_count(1)

    def test_the_page_reconnects_and_rejoins_after_the_gateway_restarts(
        self, start: StartGateway, room: str
    ) -> None:
        port = str(free_loopback_port())
        first = start("--port", port)
        with chromium() as context:
            alice = context.new_page()
            join(alice, first.page_url, "alice", room)
            first.process.send_signal(signal.SIGKILL)
            expect(alice.locator("#status")).to_contain_text("Reconnecting in 1s (attempt 1)")
            start("--port", port)
            expect(alice.locator("#status")).to_have_text("Connected as alice", timeout=15_000)
            expect(alice.locator("#log li.system")).to_have_text(
                [f"You joined #{room}", f"You joined #{room}"]
            )
            say(alice, "back")
            expect(alice.locator("#log li.message")).to_have_text(["alice back"])


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
