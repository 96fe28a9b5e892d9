"""Outbound frames, exactly as the wire protocol defines them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

from roomcast.domain.history import Replay
from roomcast.domain.model import Message, RoomId, UserId

UNENCODABLE = "Frame could not be encoded: it held text that is not valid Unicode"


@frozen
class Frame:
    """One JSON text frame for a client; encoded once however many receive it."""

    fields: Mapping[str, Any]

    @property
    def action(self) -> str:
        return str(self.fields["action"])

    def encode(self) -> bytes:
        """UTF-8 JSON; a frame holding text UTF-8 cannot carry (a lone surrogate) becomes the
        error frame UNENCODABLE instead, so encoding never fails a use case or a broadcast."""
        try:
            return _json(self.fields).encode()
        except UnicodeEncodeError:
            fallback: dict[str, Any] = {"action": "error", "message": UNENCODABLE}
            if "timestamp" in self.fields:
                fallback["timestamp"] = self.fields["timestamp"]
            return _json(fallback).encode()


def _json(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def joined_room(
    room_id: RoomId,
    members: Iterable[UserId],
    member_count: int,
    joiner: UserId,
    seq: int,
    epoch: str,
    replay: Replay | None = None,
) -> Frame:
    """`members` may be a part of the room (see policies.listed_members); `memberCount` is
    how many connections are in it; `userId` is who the server recorded the joiner as; `seq`
    is the room's latest message and `epoch` the log that counted it. A join with `since`
    says whether its replay is complete (`recovered`) and how many `message` frames follow
    it (`replayed`)."""
    fields: dict[str, Any] = {
        "action": "joinedRoom",
        "roomId": room_id.value,
        "memberCount": member_count,
        "members": [m.value for m in members],
        "userId": joiner.value,
        "seq": seq,
        "epoch": epoch,
    }
    if replay is not None:
        fields.update(recovered=replay.complete, replayed=len(replay.messages))
    return Frame(fields)


def user_joined(room_id: RoomId, user_id: UserId, timestamp: int) -> Frame:
    return _presence("userJoined", room_id, user_id, timestamp)


def user_left(room_id: RoomId, user_id: UserId, timestamp: int) -> Frame:
    return _presence("userLeft", room_id, user_id, timestamp)


def _presence(action: str, room_id: RoomId, user_id: UserId, timestamp: int) -> Frame:
    return Frame(
        {"action": action, "roomId": room_id.value, "userId": user_id.value, "timestamp": timestamp}
    )


def left_room(room_id: RoomId) -> Frame:
    return Frame({"action": "leftRoom", "roomId": room_id.value})


def message(said: Message) -> Frame:
    return Frame(
        {
            "action": "message",
            "roomId": said.room_id.value,
            "message": said.text,
            "sender": said.sender.value,
            "timestamp": said.timestamp,
            "seq": said.seq,
        }
    )


def pong(timestamp: int) -> Frame:
    return Frame({"action": "pong", "timestamp": timestamp})


def error(text: str, timestamp: int) -> Frame:
    return Frame({"action": "error", "message": text, "timestamp": timestamp})
