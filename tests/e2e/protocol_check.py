"""Every frame an e2e test sends or receives must follow docs/asyncapi.yaml.

An autouse fixture (imported by tests/e2e/conftest.py) records each WebSocket connection's
frames in both directions, from `websockets` clients (roomcast_client and raw sockets) and
from Chromium pages, and after the test checks that:

- every frame the server sent is a documented server message, valid against its schema,
  unless it is bytes the test itself posted through the management API;
- every frame a client sent is a documented client message, or one the server refused:
  a connection sends no more such frames than it got refusals (an `error`, API Gateway's
  error frame, or a close with 1009), as tests of bad input do on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from playwright.sync_api import BrowserContext, Page, WebSocket
from websockets.asyncio.connection import Connection

from tests.support.protocol import REFUSALS, Protocol, protocol

Raw = str | bytes
MESSAGE_TOO_BIG = 1009
POSTED_BY_TESTS = "provide-client-params.apigatewaymanagementapi.PostToConnection"


@dataclass
class Conversation:
    """One WebSocket connection, seen from its client."""

    close_code: Callable[[], int | None]
    sent: list[Raw] = field(default_factory=list)
    received: list[Raw] = field(default_factory=list)


@dataclass
class FrameRecorder:
    conversations: dict[object, Conversation] = field(default_factory=dict)
    posted: set[bytes] = field(default_factory=set)

    def conversation(self, socket: object, close_code: Callable[[], int | None]) -> Conversation:
        return self.conversations.setdefault(socket, Conversation(close_code))

    def note_post(self, params: dict[str, Any], **_: Any) -> None:
        data = params.get("Data", b"")
        self.posted.add(data.encode() if isinstance(data, str) else bytes(data))

    def problems(self, rules: Protocol) -> list[str]:
        return [p for c in self.conversations.values() for p in self._problems_of(c, rules)]

    def _problems_of(self, conversation: Conversation, rules: Protocol) -> list[str]:
        problems, refusals = [], 0
        for raw in conversation.received:
            if _as_bytes(raw) in self.posted:
                continue
            verdict = rules.server_frame(raw)
            refusals += verdict.message in REFUSALS
            if verdict.problem:
                problems.append(f"server frame {_shown(raw)}: {verdict.problem}")
        refusals += conversation.close_code() == MESSAGE_TOO_BIG
        unanswered = [
            f"client frame {_shown(raw)}: {verdict.problem}"
            for raw in conversation.sent
            if (verdict := rules.client_frame(raw)).problem
        ]
        if len(unanswered) > refusals:
            problems.append(f"{len(unanswered)} bad client frames, {refusals} refused")
            problems.extend(unanswered)
        return problems


def _as_bytes(raw: Raw) -> bytes:
    return raw.encode() if isinstance(raw, str) else raw


def _shown(raw: Raw) -> str:
    return f"{raw[:120]!r}{'...' if len(raw) > 120 else ''}"


_active: list[FrameRecorder] = []


@pytest.fixture(autouse=True)
def frames_follow_the_asyncapi_document(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FrameRecorder]:
    recorder = FrameRecorder()
    _record_websockets(monkeypatch, recorder)
    events = _default_boto3_session().events
    events.register(POSTED_BY_TESTS, recorder.note_post)
    _active.append(recorder)
    try:
        yield recorder
    finally:
        _active.remove(recorder)
        events.unregister(POSTED_BY_TESTS, recorder.note_post)
    problems = recorder.problems(protocol())
    assert not problems, "frames that break docs/asyncapi.yaml:\n" + "\n".join(problems[:30])


def _default_boto3_session() -> boto3.Session:
    """The session `boto3.client()` uses: its clients inherit the events registered on it."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    return boto3.DEFAULT_SESSION


def _record_websockets(monkeypatch: pytest.MonkeyPatch, recorder: FrameRecorder) -> None:
    original_send, original_recv = Connection.send, Connection.recv

    def conversation(socket: Connection) -> Conversation:
        return recorder.conversation(socket, lambda: socket.close_code)

    async def send(socket: Connection, message: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(message, str | bytes | bytearray | memoryview):
            conversation(socket).sent.append(_whole(message))
        elif isinstance(message, Iterable):
            message = [_whole(fragment) for fragment in message]
            conversation(socket).sent.append(_joined(message))
        await original_send(socket, message, *args, **kwargs)

    async def recv(socket: Connection, *args: Any, **kwargs: Any) -> Any:
        data = await original_recv(socket, *args, **kwargs)
        conversation(socket).received.append(data)
        return data

    monkeypatch.setattr(Connection, "send", send)
    monkeypatch.setattr(Connection, "recv", recv)


def _joined(fragments: list[Raw]) -> Raw:
    if all(isinstance(fragment, str) for fragment in fragments):
        return "".join(str(fragment) for fragment in fragments)
    return b"".join(_as_bytes(fragment) for fragment in fragments)


def _whole(fragment: str | bytes | bytearray | memoryview) -> Raw:
    return fragment if isinstance(fragment, str) else bytes(fragment)


def watch_pages(context: BrowserContext) -> None:
    """Record the frames of every page this browser context opens, while a test records."""
    if _active:
        context.on("page", lambda page: _watch_page(_active[-1], page))


def _watch_page(recorder: FrameRecorder, page: Page) -> None:
    def watch(socket: WebSocket) -> None:
        conversation = recorder.conversation(socket, lambda: None)
        socket.on("framesent", lambda payload: conversation.sent.append(payload))
        socket.on("framereceived", lambda payload: conversation.received.append(payload))

    page.on("websocket", watch)
