"""Two chat pages in Debian's headless Chromium, driven by Playwright (never its own browsers).

`python -m tests.e2e.browser docs` starts a gateway, has alice and bob chat, and saves
alice's page as the README's screenshots: docs/screenshot.png (desktop) and
docs/screenshot-phone.png (390 px, a common phone width).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import (
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.e2e.protocol_check import watch_pages

CHROMIUM = Path("/usr/bin/chromium")
DESKTOP = ViewportSize(width=900, height=440)
PHONE = ViewportSize(width=390, height=700)
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


def require_chromium() -> None:
    """Skip the calling test module when Chromium is missing; in CI, fail it instead."""
    if CHROMIUM.exists():
        return
    # `make test` installs Debian's chromium first; in CI a missing browser is a failure.
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test`, which installs it")
    pytest.skip(f"{CHROMIUM} is missing (`make test` installs it)", allow_module_level=True)


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        watch_pages(context)
        try:
            yield context
        finally:
            context.close()


def join(page: Page, page_url: str, name: str, room: str) -> None:
    page.goto(page_url)
    join_again(page, name, room)


def pages_in_room(context: BrowserContext, page_url: str, room: str, *names: str) -> list[Page]:
    """One page per name, each joined to `room`, in the order given."""
    pages = [context.new_page() for _ in names]
    for page, name in zip(pages, names, strict=True):
        join(page, page_url, name, room)
    return pages


def join_again(page: Page, name: str, room: str) -> None:
    page.fill("#name", name)
    page.fill("#room", room)
    page.click("#join")
    expect(page.locator("#status")).to_have_text(f"Connected as {name}")
    expect(page.locator("#room-title")).to_have_text(f"#{room}")


def say(page: Page, text: str) -> None:
    page.fill("#message", text)
    page.click("#send")


def senders(page: Page) -> Locator:
    return page.locator("#log li.message strong")


def texts(page: Page, kind: str = "message") -> Locator:
    return page.locator(f"#log li.{kind} .text")


def two_pages_chat(context: BrowserContext, page_url: str, room: str) -> tuple[Page, Page]:
    alice, bob = pages_in_room(context, page_url, room, "alice", "bob")
    expect(alice.locator("#members li")).to_have_text(["alice (you)", "bob"])
    say(alice, "Hi bob, the local gateway works!")
    say(bob, "Hello alice, same protocol as API Gateway.")
    for page in (alice, bob):
        expect(page.locator("#log li.message")).to_have_count(2)
    return alice, bob


def save_screenshots(folder: Path) -> None:
    from tests.e2e.gateway_process import start_gateway

    gateway = start_gateway()
    try:
        with chromium() as context:
            alice, _ = two_pages_chat(context, gateway.page_url, "general")
            for name, size in (("screenshot.png", DESKTOP), ("screenshot-phone.png", PHONE)):
                alice.set_viewport_size(size)
                alice.screenshot(path=str(folder / name))
    finally:
        gateway.stop()


if __name__ == "__main__":
    save_screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
