"""Two chat pages in Debian's headless Chromium, driven by Playwright (never its own browsers).

`python -m tests.e2e.browser docs/screenshot.png` starts a gateway, has alice and bob chat,
and saves alice's page as the README's screenshot.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# The network here is closed: nothing that phones home, and a profile of its own each run.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield context
        finally:
            context.close()


def join(page: Page, page_url: str, name: str, room: str) -> None:
    page.goto(page_url)
    page.fill("#name", name)
    page.fill("#room", room)
    page.click("#join")
    expect(page.locator("#status")).to_have_text(f"Connected as {name}")
    expect(page.locator("#room-title")).to_have_text(f"#{room}")


def say(page: Page, text: str) -> None:
    page.fill("#message", text)
    page.click("#send")


def two_pages_chat(context: BrowserContext, page_url: str, room: str) -> tuple[Page, Page]:
    alice, bob = context.new_page(), context.new_page()
    join(alice, page_url, "alice", room)
    join(bob, page_url, "bob", room)
    expect(alice.locator("#members li")).to_have_text(["alice (you)", "bob"])
    say(alice, "Hi bob, the local gateway works!")
    say(bob, "Hello alice, same protocol as API Gateway.")
    for page in (alice, bob):
        expect(page.locator("#log li.message")).to_have_count(2)
    return alice, bob


def save_screenshot(path: Path) -> None:
    from tests.e2e.gateway_process import start_gateway

    gateway = start_gateway()
    try:
        with chromium() as context:
            alice, _ = two_pages_chat(context, gateway.page_url, "general")
            alice.set_viewport_size({"width": 900, "height": 440})
            alice.screenshot(path=str(path))
    finally:
        gateway.stop()


if __name__ == "__main__":
    save_screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"))
