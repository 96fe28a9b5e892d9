"""Helpers for serving the fixture projects of tests/fixtures/templates/ (templates of
functions of their own, not roomcast's) and talking to them with plain WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import websockets

from tests.e2e.gateway_process import INHERITED_SETTINGS, ROOT, GatewayProcess, start_gateway

FIXTURES = ROOT / "tests" / "fixtures" / "templates"
FRAME_TIMEOUT = 10.0


@contextmanager
def serving(template: Path, *arguments: str, **env: str) -> Iterator[GatewayProcess]:
    running = start_gateway("--template", str(template), *arguments, env=env)
    try:
        yield running
    finally:
        running.stop()


async def receive(client: Any, timeout: float = FRAME_TIMEOUT) -> Any:
    return json.loads(await asyncio.wait_for(client.recv(), timeout))


def connect(gateway: GatewayProcess, query: str = "", **options: Any) -> Any:
    url = gateway.websocket_url + (f"?{query}" if query else "")
    return websockets.connect(url, open_timeout=FRAME_TIMEOUT, **options)


def dynamodb(gateway: GatewayProcess) -> Any:
    """boto3's DynamoDB client on the gateway's local DynamoDB (named in its banner)."""
    assert gateway.dynamodb_url, gateway.log_tail()
    return boto3.client(
        "dynamodb",
        endpoint_url=gateway.dynamodb_url,
        region_name="us-east-1",
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


def management(gateway: GatewayProcess) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.management_url,
        region_name="us-east-1",
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


def serve_until_exit(template: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`roomcast serve` expected to refuse to start: its exit and output."""
    environ = {k: v for k, v in os.environ.items() if not INHERITED_SETTINGS.match(k)}
    return subprocess.run(
        [sys.executable, "-m", "roomcast.entrypoints.cli", "serve", "--port", "0",
         "--template", str(template), *arguments],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=90,
    )


def roomcast(*argv: str) -> subprocess.CompletedProcess[str]:
    """The `roomcast` command line, as a user runs it (the operator's commands)."""
    environ = {k: v for k, v in os.environ.items() if not INHERITED_SETTINGS.match(k)}
    return subprocess.run(
        [sys.executable, "-m", "roomcast.entrypoints.cli", *argv],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )
