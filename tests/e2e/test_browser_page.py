"""The chat page's frame: phone to desktop widths, size limits, hints, favicon, refusals."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Page, Response, ViewportSize, expect

from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    chromium,
    join,
    pages_in_room,
    require_chromium,
    say,
    texts,
    two_pages_chat,
)
from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.protocol_check import FrameRecorder

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
require_chromium()

SECRET = "e2e-page-secret-that-is-at-least-32-bytes"
KB = 1024
PHONE_WIDTH = 600  # chat.css: the one-column layout
LAPTOP = ViewportSize(width=1280, height=800)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport (0: nothing off-screen)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def problem(page: Page) -> str:
    shown = page.locator("#send-problem")
    expect(shown).to_be_visible()
    return shown.inner_text()


class TestLayout:
    @pytest.mark.parametrize(
        "size", [ViewportSize(width=360, height=640), PHONE, DESKTOP],
        ids=lambda size: f"{size['width']}px",
    )
    def test_everything_fits_the_width_and_the_controls_are_on_screen(
        self, gateway: GatewayProcess, room: str, size: ViewportSize, tmp_path: Path
    ) -> None:
        with chromium() as context:
            alice, _ = two_pages_chat(context, gateway.page_url, room)
            alice.set_viewport_size(size)
            say(alice, "a-long-word-without-spaces-" * 8)
            expect(alice.locator("#log li.message")).to_have_count(3)
            alice.screenshot(path=str(tmp_path / f"chat-{size['width']}.png"), full_page=True)
            assert horizontal_overflow(alice) <= 0
            for control in ("#send", "#message", "#members"):
                expect(alice.locator(control)).to_be_in_viewport()
            if size["width"] <= PHONE_WIDTH:  # once in a room the join form folds away
                expect(alice.locator("#join-form")).to_be_hidden()
                alice.click("#show-join")
            for control in ("#join", "#leave", "#name", "#room"):
                expect(alice.locator(control)).to_be_in_viewport()
            assert horizontal_overflow(alice) <= 0

    def test_on_a_desktop_the_log_fills_the_windows_height(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            alice, _ = two_pages_chat(context, gateway.page_url, room)
            alice.set_viewport_size(LAPTOP)
            log_height = alice.locator("#log").bounding_box()["height"]
            assert log_height >= LAPTOP["height"] * 0.5
            expect(alice.locator("#send")).to_be_in_viewport()
            assert int(alice.evaluate("document.documentElement.scrollHeight")) <= (
                LAPTOP["height"]
            )


class TestSizeCheck:
    def test_a_message_over_the_servers_limit_in_utf8_bytes_is_refused_on_the_page(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_MAX_MESSAGE_BYTES": "10"})
        with chromium() as context:
            (alice,) = pages_in_room(context, gateway.page_url, room, "alice")
            say(alice, "ééééé")  # 5 characters, 10 bytes: at the limit
            expect(texts(alice)).to_have_text(["ééééé"])
            say(alice, "éééééé")  # 6 characters, 12 bytes
            assert problem(alice) == (
                "Too long: 12 bytes of UTF-8; a message may have at most 10."
            )
            expect(alice.locator("#message")).to_have_value("éééééé")
            alice.wait_for_timeout(300)
            expect(texts(alice)).to_have_count(1)
            expect(alice.locator("#status")).to_have_text("Connected as alice")

    def test_a_message_that_would_overflow_a_frame_is_refused_before_the_socket_closes(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            (alice,) = pages_in_room(context, gateway.page_url, room, "alice")
            alice.fill("#message", "é" * (16 * KB - 5))  # 32,758 bytes: the frame is over 32 KB
            hint = problem(alice)
            assert hint.startswith("Too long: it would be a ")
            # Why 32 KB and not the 128 KB a message may have: the page never splits one.
            assert "a frame may have at most 32768 bytes" in hint
            assert "sends each message as one frame" in hint
            alice.click("#send")
            alice.wait_for_timeout(300)
            expect(alice.locator("#status")).to_have_text("Connected as alice")
            say(alice, "short enough")
            expect(texts(alice)).to_have_text(["short enough"])
            expect(alice.locator("#send-problem")).to_be_hidden()


class TestBigRooms:
    def test_members_joinedroom_did_not_list_are_counted(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_MAX_MEMBERS_IN_JOINED_ROOM": "1"})
        with chromium() as context:
            alice, bob, carol = pages_in_room(
                context, gateway.page_url, room, "alice", "bob", "carol"
            )
            expect(carol.locator("#members li")).to_have_text(["carol (you)", "+2 more"])
            expect(alice.locator("#members li")).to_have_text(["alice (you)", "bob", "carol"])
            bob.close()
            expect(carol.locator("#members li")).to_have_text(["carol (you)", "+1 more"])


class TestHints:
    def test_sending_before_joining_says_to_join_first(self, gateway: GatewayProcess) -> None:
        with chromium() as context:
            page = context.new_page()
            page.goto(gateway.page_url)
            say(page, "hello?")
            assert problem(page).startswith("Join a room first")

    def test_the_page_loads_without_a_failed_request_and_has_an_icon(
        self, gateway: GatewayProcess, room: str
    ) -> None:
        with chromium() as context:
            page = context.new_page()
            failed: list[str] = []

            def note_failure(response: Response) -> None:
                if response.status >= 400:
                    failed.append(f"{response.status} {response.url}")

            page.on("response", note_failure)
            join(page, gateway.page_url, "alice", room)
            icon = page.locator("link[rel=icon]").get_attribute("href") or ""
            answer = page.request.get(gateway.page_url.rstrip("/") + icon)
            assert (answer.status, answer.headers["content-type"]) == (200, "image/svg+xml")
            assert failed == []


class TestRefusedHandshake:
    def test_a_refused_handshake_is_explained(self, start: StartGateway, room: str) -> None:
        gateway = start(env={"ROOMCAST_JWT_SECRET": SECRET})
        with chromium() as context:
            page = context.new_page()
            page.goto(gateway.page_url)
            page.fill("#name", "alice")
            page.click("#join")
            expect(page.locator("#status")).to_have_text("Connection refused")
            expect(texts(page, "error")).to_contain_text(
                ["The server refused the connection as alice: with authentication on"]
            )
            page.wait_for_timeout(1500)  # past the first reconnect delay: none is tried
            expect(page.locator("#status")).to_have_text("Connection refused")

    def test_a_token_in_the_pages_address_is_sent_on_connect(
        self, start: StartGateway, room: str
    ) -> None:
        gateway = start(env={"ROOMCAST_JWT_SECRET": SECRET})
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET, "HS256")
        with chromium() as context:
            page = context.new_page()
            join(page, f"{gateway.page_url}?token={token}", "alice", room)
            expect(page.locator("#members li")).to_have_text(["alice (you)"])


class TestFramesOnTheWire:
    def test_the_pages_frames_are_recorded_for_the_protocol_check(
        self, gateway: GatewayProcess, room: str, frames_follow_the_asyncapi_document: FrameRecorder
    ) -> None:
        with chromium() as context:
            two_pages_chat(context, gateway.page_url, room)
        conversations = frames_follow_the_asyncapi_document.conversations.values()
        sent = [json.loads(raw)["action"] for talk in conversations for raw in talk.sent]
        received = [json.loads(raw)["action"] for talk in conversations for raw in talk.received]
        assert sorted(sent) == ["joinRoom", "joinRoom", "sendMessage", "sendMessage"]
        assert received.count("message") == 4
