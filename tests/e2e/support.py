"""Helpers for e2e tests: run a coroutine test, read frames, the e2e template."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import boto3
import yaml

from roomcast.entrypoints.gateway.template import DEFAULT_TEMPLATE, load_template
from roomcast_client import RoomcastClient
from tests.e2e.gateway_process import GatewayProcess

LAMBDA_HANDLERS = "roomcast.entrypoints.aws_lambda.handlers."

FRAME_TIMEOUT = 10.0


def async_test(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run a coroutine test function in a fresh event loop (no pytest-asyncio here)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def next_frame(client: RoomcastClient, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
    return await client.receive(timeout)


async def frames(client: RoomcastClient, count: int, timeout: float = FRAME_TIMEOUT) -> list[Any]:
    return [await client.receive(timeout) for _ in range(count)]


async def assert_nothing_more(*clients: RoomcastClient, wait: float = 0.3) -> None:
    await asyncio.sleep(wait)
    for client in clients:
        assert client.inbox.empty(), f"unexpected frames: {list(client.inbox._queue)}"  # type: ignore[attr-defined]


def management_client(gateway: GatewayProcess) -> Any:
    """boto3's ApiGatewayManagementApi client, pointed at the gateway like the handlers'."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.management_url,
        region_name="us-east-1",
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


async def eventually(condition: Callable[[], bool], timeout: float = FRAME_TIMEOUT) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


def connection_id_of(gateway: GatewayProcess, user_id: str) -> str:
    """The connection id the gateway gave `user_id` (user ids are unique within a test)."""
    for event in reversed(gateway.events()):
        query = event.get("queryStringParameters") or {}
        if event["requestContext"]["eventType"] == "CONNECT" and query.get("userId") == user_id:
            return str(event["requestContext"]["connectionId"])
    raise AssertionError(f"no CONNECT event for {user_id}")


async def route_keys_once_disconnected(gateway: GatewayProcess, user_id: str) -> list[str]:
    """The route keys of a connection's events, once its $disconnect has been recorded."""
    connection_id = connection_id_of(gateway, user_id)
    for _ in range(int(FRAME_TIMEOUT / 0.05)):
        keys = [e["requestContext"]["routeKey"] for e in gateway.events_of(connection_id)]
        if keys and keys[-1] == "$disconnect":
            return keys
        await asyncio.sleep(0.05)
    raise AssertionError(f"{user_id} ({connection_id}) never saw $disconnect")


def write_e2e_template(directory: Path) -> Path:
    """infra/template.yaml with every roomcast Handler swapped for the e2e ones."""
    template = load_template(DEFAULT_TEMPLATE)
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        handler = properties.get("Handler")
        if isinstance(handler, str) and handler.startswith(LAMBDA_HANDLERS):
            properties["Handler"] = handler.replace(LAMBDA_HANDLERS, "tests.e2e.handlers.")
    path = directory / "e2e-template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return path
