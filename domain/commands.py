"""Inbound frames parsed into commands; every bad input becomes a DomainError."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from attrs import frozen

from roomcast.domain import errors
from roomcast.domain.model import RoomId

DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024
MAX_EPOCH_CHARACTERS = 64


@frozen
class JoinRoom:
    """`since`: the last seq the client has seen in the room, to replay what came after it;
    `epoch`: the log that seq was counted by, as an earlier joinedRoom named it."""

    room_id: RoomId
    since: int | None = None
    epoch: str | None = None


@frozen
class LeaveRoom:
    room_id: RoomId


@frozen
class SendMessage:
    room_id: RoomId
    text: str


@frozen
class Ping:
    pass


Command = JoinRoom | LeaveRoom | SendMessage | Ping


def parse(body: str | bytes | None, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Command:
    """Turn one client frame into a command, or raise the DomainError that describes it."""
    data = _load_object(body)
    action = data.get("action")
    if action is None:
        raise errors.MissingAction()
    if not isinstance(action, str):
        raise errors.UnknownAction(json.dumps(action))
    if action == "ping":
        return Ping()
    if action == "joinRoom":
        room_id = _room_id(data.get("roomId"), errors.RoomIdRequired)
        return JoinRoom(room_id, _since(data), _epoch(data))
    if action == "leaveRoom":
        return LeaveRoom(_room_id(data.get("roomId"), errors.RoomIdRequired))
    if action == "sendMessage":
        return _send_message(data, max_message_bytes)
    raise errors.UnknownAction(action)


def _load_object(body: str | bytes | None) -> dict[str, Any]:
    if body is None:
        raise errors.InvalidJson()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise errors.InvalidJson() from None
    if not isinstance(data, dict):
        raise errors.NotAnObject()
    return data


def _send_message(data: dict[str, Any], max_message_bytes: int) -> SendMessage:
    text = data.get("message")
    if not isinstance(text, str) or not text:
        raise errors.RoomIdAndMessageRequired()
    room_id = _room_id(data.get("roomId"), errors.RoomIdAndMessageRequired)
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise errors.InvalidJson() from None
    if size > max_message_bytes:
        raise errors.MessageTooLarge(max_message_bytes)
    return SendMessage(room_id, text)


def _since(data: dict[str, Any]) -> int | None:
    if "since" not in data:
        return None
    since = data["since"]
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise errors.InvalidSince()
    return since


def _epoch(data: dict[str, Any]) -> str | None:
    epoch = data.get("epoch")
    if epoch is None:
        return None
    if not isinstance(epoch, str) or not 1 <= len(epoch) <= MAX_EPOCH_CHARACTERS:
        raise errors.InvalidEpoch()
    return epoch


def _room_id(value: object, missing: Callable[[], errors.DomainError]) -> RoomId:
    if not isinstance(value, str) or not value:
        raise missing()
    return RoomId(value)
