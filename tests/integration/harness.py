"""Plays API Gateway for the Lambda handlers and reads back what they posted and stored."""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import unquote

import boto3
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.domain.model import ConnectionId
from roomcast.entrypoints.aws_lambda import handlers
from tests.support import events
from tests.support.events import REGION


class Frames(Protocol):
    def __call__(self, connection_id: str) -> list[dict[str, Any]]: ...


def moto_frames(connection_id: str) -> list[dict[str, Any]]:
    """Frames moto's management API received for one connection, in order.

    moto appends every PostToConnection body to one bytes buffer per (URL-encoded) id.
    """
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]
    data = b"".join(
        c.data for key, c in list(backend.connections.items()) if unquote(key) == connection_id
    )
    return _split_json(data.decode())


def fake_frames(notifier: FakeNotifier) -> Frames:
    return lambda connection_id: notifier.frames_for(ConnectionId(connection_id))


def _split_json(text: str) -> list[dict[str, Any]]:
    decoder, found, position = json.JSONDecoder(), [], 0
    while position < len(text):
        frame, position = decoder.raw_decode(text, position)
        found.append(frame)
    return found


class Gateway:
    """Client actions become events for the handlers; responses and frames come back."""

    def __init__(self, frames: Frames) -> None:
        self.frames = frames
        self.seen: dict[str, int] = {}

    def connect(self, user: str | None = None, **query: str) -> str:
        connection_id = events.new_connection_id()
        if user is not None:
            query["userId"] = user
        response = handlers.connect(events.connect_event(connection_id, query), None)
        assert response == {"statusCode": 200, "body": "Connected"}
        return connection_id

    def send(self, connection_id: str, frame: dict[str, Any] | str | None) -> dict[str, Any]:
        return handlers.message(events.message_event(connection_id, frame), None)

    def join(self, connection_id: str, room: str) -> dict[str, Any]:
        return self.send(connection_id, {"action": "joinRoom", "roomId": room})

    def disconnect(self, connection_id: str) -> dict[str, Any]:
        return handlers.disconnect(events.disconnect_event(connection_id), None)

    def new_frames(self, connection_id: str) -> list[dict[str, Any]]:
        """Frames that arrived since the last call for this connection."""
        every = self.frames(connection_id)
        start, self.seen[connection_id] = self.seen.get(connection_id, 0), len(every)
        return every[start:]

    def new_actions(self, connection_id: str) -> list[str]:
        return [frame["action"] for frame in self.new_frames(connection_id)]


def table_items(table_name: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name=REGION)
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table_name):
        found.extend(page["Items"])
    return found


def item_keys(table_name: str) -> set[tuple[str, str]]:
    return {(item["pk"]["S"], item["sk"]["S"]) for item in table_items(table_name)}


class BrokenStore:
    """A store whose every call fails, as DynamoDB does when throttled or misconfigured."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"store unavailable ({name})")

        return fail
