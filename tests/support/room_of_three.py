"""Alice, Bob and Carol connected to one chat service over any store, for the tests of
partial failures: what they say, the actions they get back, whom they hear of."""

from __future__ import annotations

import json

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.domain.model import ConnectionId, RoomId, UserId
from roomcast.domain.policies import Limits
from roomcast.domain.service import ChatService

ALICE, BOB, CAROL = ConnectionId("conn-alice"), ConnectionId("conn-bob"), ConnectionId("conn-carol")
LOBBY, GAMES = RoomId("lobby"), RoomId("games")


class Room:
    """Alice, Bob and Carol on one service; frames they receive, replies Alice gets."""

    def __init__(self, store, clock: FixedClock) -> None:
        self.store = store
        self.notifier = FakeNotifier()
        log = InMemoryRoomLog(clock)
        self.service = ChatService(store, self.notifier, clock, Limits(), log=log)
        for connection_id in (ALICE, BOB, CAROL):
            self.service.connect(connection_id, UserId(connection_id.value.removeprefix("conn-")))

    def say(self, connection_id: ConnectionId, action: str, room: RoomId) -> int:
        frame = json.dumps({"action": action, "roomId": room.value})
        return self.service.handle(connection_id, frame).status_code

    def actions(self, connection_id: ConnectionId) -> list[str]:
        return self.notifier.actions_for(connection_id)

    def heard(self, connection_id: ConnectionId, action: str) -> list[str]:
        frames = self.notifier.frames_for(connection_id)
        return [f["userId"] for f in frames if f["action"] == action]
