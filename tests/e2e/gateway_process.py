"""`roomcast serve` as a child process on a free loopback port, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roomcast_client import RoomcastClient

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30
# Settings the gateway or a test chooses; inherited values would change what is tested.
INHERITED_SETTINGS = re.compile(
    r"^(ROOMCAST_|AWS_ENDPOINT_URL|WEBSOCKET_ENDPOINT$|CONNECTIONS_TABLE$)"
)


@dataclass
class GatewayProcess:
    process: subprocess.Popen[str]
    websocket_url: str
    page_url: str  # "" for a template of functions of its own: it has no chat page
    output: list[str]
    event_log: Path | None
    follower: threading.Thread | None = None  # drains the output; done once the pipe closes
    dynamodb_url: str | None = None  # the banner's DynamoDB endpoint, when it has one

    @property
    def management_url(self) -> str:
        return "http" + self.websocket_url.removeprefix("ws")

    def client(self, user_id: str | None = None, **options: Any) -> RoomcastClient:
        query = {"userId": user_id} if user_id else {}
        return RoomcastClient(self.websocket_url, query, **options)

    def events(self) -> list[dict[str, Any]]:
        """Every event the e2e handlers recorded, oldest first."""
        if self.event_log is None or not self.event_log.exists():
            return []
        text = self.event_log.read_text(encoding="utf-8")
        # A handler may be appending right now: a last line without its newline is not
        # written yet.
        complete = text[: text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines()]

    def events_of(self, connection_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["requestContext"]["connectionId"] == connection_id]

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.follower is not None:  # the last lines may still be in the pipe
            self.follower.join(timeout)
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.output[-lines:])


def start_gateway(
    *arguments: str, env: dict[str, str] | None = None, event_log: Path | None = None
) -> GatewayProcess:
    environ = {k: v for k, v in os.environ.items() if not INHERITED_SETTINGS.match(k)}
    environ.update(PYTHONUNBUFFERED="1", AWS_EC2_METADATA_DISABLED="true", **(env or {}))
    if event_log is not None:
        environ["ROOMCAST_E2E_EVENT_LOG"] = str(event_log)
    command = [sys.executable, "-m", "roomcast.entrypoints.cli", "serve", "--port", "0", *arguments]
    process = subprocess.Popen(
        command, cwd=ROOT, env=environ, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    output: list[str] = []
    ready = threading.Event()
    follower = threading.Thread(target=_follow, args=(process, output, ready), daemon=True)
    follower.start()
    if not ready.wait(STARTUP_SECONDS):
        process.kill()
        raise RuntimeError("roomcast serve did not start:\n" + "\n".join(output))
    urls = dict(re.findall(r"^\s+(WebSocket|Chat page|DynamoDB):\s+(\S+)", "\n".join(output), re.M))
    return GatewayProcess(
        process, urls["WebSocket"], urls.get("Chat page", ""), output, event_log, follower,
        urls.get("DynamoDB"),
    )


def _follow(process: subprocess.Popen[str], output: list[str], ready: threading.Event) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            ready.set()
