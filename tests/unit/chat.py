"""A small driver over the in-memory wiring that lets unit tests read as conversations."""

from __future__ import annotations

import json
from typing import Any

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.domain.model import ConnectionId, UserId
from roomcast.domain.results import Reply
from roomcast.domain.service import ChatService


class Chat:
    def __init__(self, service: ChatService, notifier: FakeNotifier) -> None:
        self.service = service
        self.notifier = notifier

    def connect(self, name: str) -> ConnectionId:
        connection_id = ConnectionId(f"conn-{name}")
        self.service.connect(connection_id, UserId(name), "127.0.0.1", "pytest")
        return connection_id

    def say(self, connection_id: ConnectionId, **frame: Any) -> Reply:
        return self.service.handle(connection_id, json.dumps(frame))

    def join(self, connection_id: ConnectionId, room: str) -> Reply:
        return self.say(connection_id, action="joinRoom", roomId=room)

    def leave(self, connection_id: ConnectionId, room: str) -> Reply:
        return self.say(connection_id, action="leaveRoom", roomId=room)

    def send(self, connection_id: ConnectionId, room: str, text: str) -> Reply:
        return self.say(connection_id, action="sendMessage", roomId=room, message=text)

    def frames(self, connection_id: ConnectionId) -> list[dict[str, Any]]:
        return self.notifier.frames_for(connection_id)

    def actions(self, connection_id: ConnectionId) -> list[str]:
        return self.notifier.actions_for(connection_id)

    def last(self, connection_id: ConnectionId) -> dict[str, Any]:
        return self.frames(connection_id)[-1]

    def forget_frames(self) -> None:
        self.notifier.clear()
