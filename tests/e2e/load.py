"""The load scenario: many clients in many rooms, exact delivery counts, timed phase by phase."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from roomcast_client import RoomcastClient
from tests.e2e.gateway_process import GatewayProcess

CONNECT_CONCURRENCY = 50
PHASE_TIMEOUT = 120.0


@dataclass
class Member:
    user_id: str
    room: str
    client: RoomcastClient
    received: list[dict[str, Any]] = field(default_factory=list)

    def drain(self) -> None:
        while not self.client.inbox.empty():
            self.received.append(self.client.inbox.get_nowait())

    def has_joined(self) -> bool:
        return bool(self.of("joinedRoom"))

    def of(self, action: str) -> list[dict[str, Any]]:
        self.drain()
        return [frame for frame in self.received if frame.get("action") == action]


@dataclass
class LoadReport:
    clients: int
    rooms: int
    messages_per_client: int
    seconds: dict[str, float] = field(default_factory=dict)
    message_frames: int = 0

    def __str__(self) -> str:
        phases = ", ".join(f"{name} {secs:.1f}s" for name, secs in self.seconds.items())
        return (
            f"{self.clients} clients x {self.rooms} rooms x {self.messages_per_client} messages: "
            f"{self.message_frames} message frames; {phases}"
        )


async def run_load(
    gateway: GatewayProcess, clients: int, rooms: int, messages: int
) -> tuple[list[Member], LoadReport]:
    report = LoadReport(clients, rooms, messages)
    members = [
        Member(f"user-{i:03d}", f"load-{i % rooms}", gateway.client(f"user-{i:03d}"))
        for i in range(clients)
    ]
    await _timed(report, "connect", _limited(m.client.connect() for m in members))
    groups = by_room(members).values()
    await _timed(report, "join", asyncio.gather(*(_join_in_turn(group) for group in groups)))
    await _timed(report, "messages", _send_and_receive(members, messages))
    report.message_frames = sum(len(m.of("message")) for m in members)
    return members, report


async def close_all(members: Iterable[Member]) -> None:
    await asyncio.gather(*(m.client.disconnect() for m in members))


def by_room(members: list[Member]) -> dict[str, list[Member]]:
    rooms: dict[str, list[Member]] = {}
    for member in members:
        rooms.setdefault(member.room, []).append(member)
    return rooms


async def _join_in_turn(room: list[Member]) -> None:
    """One room's members join one after another, so each join's expected frames are exact."""
    for member in room:
        await member.client.join_room(member.room)
        await _until(member.has_joined)


async def _send_and_receive(members: list[Member], messages: int) -> None:
    room_size = Counter(m.room for m in members)
    sends = [
        m.client.send_message(m.room, f"{m.user_id}#{n}") for m in members for n in range(messages)
    ]
    await asyncio.gather(*sends)
    await _until(lambda: all(len(m.of("message")) >= room_size[m.room] * messages for m in members))


async def _limited(work: Iterable[Awaitable[None]]) -> None:
    slots = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(step: Awaitable[None]) -> None:
        async with slots:
            await step

    await asyncio.gather(*(one(step) for step in work))


async def _timed(report: LoadReport, phase: str, work: Awaitable[Any]) -> None:
    started = time.monotonic()
    await work
    report.seconds[phase] = time.monotonic() - started


async def _until(condition: Callable[[], bool], timeout: float = PHASE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for frames")
        await asyncio.sleep(0.02)
