"""Many clients in many rooms: every frame delivered exactly once, nothing else.

200 clients in 10 rooms, each sending 10 messages: 40,000 message frames, delivered by
the gateway's in-process notifier; through the real PostToConnection notifier and the
management API (`--notifier http`, about 1 ms of botocore per frame) the scenario runs
at half the clients. On DynamoDB too: moto's server, in this process, costs several
milliseconds per request and copies the whole table on every transaction.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.e2e.conftest import StartGateway
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.load import LoadReport, Member, by_room, close_all, run_load
from tests.e2e.support import async_test

pytestmark = pytest.mark.e2e

ROOMS, MESSAGES = 10, 10
TEMPLATE = ("--template", "infra/template.yaml")


def assert_exact_delivery(members: list[Member]) -> None:
    for room, room_members in by_room(members).items():
        names = [m.user_id for m in room_members]
        expected_messages = Counter(f"{name}#{n}" for name in names for n in range(MESSAGES))
        for position, member in enumerate(room_members):
            (joined,) = member.of("joinedRoom")
            assert joined["members"] == names[: position + 1]
            assert [f["userId"] for f in member.of("userJoined")] == names[position + 1 :]
            messages = member.of("message")
            assert Counter(f["message"] for f in messages) == expected_messages
            assert {(f["roomId"], f["sender"]) for f in messages} <= {(room, n) for n in names}
            assert len(member.received) == len(names) - position + sum(expected_messages.values())


async def scenario(gateway: GatewayProcess, clients: int) -> LoadReport:
    members, report = await run_load(gateway, clients, ROOMS, MESSAGES)
    try:
        await asyncio.sleep(0.5)
        assert_exact_delivery(members)
    finally:
        await close_all(members)
    print(f"\n{report}")
    return report


class TestLoad:
    @pytest.mark.parametrize(("notifier", "clients"), [("inprocess", 200), ("http", 100)])
    @async_test
    async def test_every_member_gets_every_frame_exactly_once_on_the_memory_store(
        self, start: StartGateway, notifier: str, clients: int
    ) -> None:
        report = await scenario(start(*TEMPLATE, "--notifier", notifier), clients=clients)
        assert report.message_frames == clients * (clients // ROOMS) * MESSAGES

    @async_test
    async def test_every_member_gets_every_frame_exactly_once_on_dynamodb(
        self, start: StartGateway, dynamodb_settings: dict[str, str]
    ) -> None:
        gateway = start(*TEMPLATE, "--store", "dynamodb", env=dynamodb_settings)
        report = await scenario(gateway, clients=100)
        assert report.message_frames == 100 * 10 * MESSAGES
        # 50 connections at once keep every worker thread in DynamoDB calls at once.
        assert not [line for line in gateway.output if "Connection pool is full" in line]
