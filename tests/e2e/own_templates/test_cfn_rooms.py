"""`roomcast serve --template` on plain CloudFormation (tests/fixtures/templates/cfn_rooms):
AWS::ApiGatewayV2 resources, AWS::Lambda::Function with local Code folders, a GSI, and a
management endpoint the template builds with !Sub from the API's id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.own_templates.support import (
    FIXTURES,
    connect,
    dynamodb,
    management,
    receive,
    serving,
)
from tests.e2e.support import async_test, eventually

pytestmark = pytest.mark.e2e

TEMPLATE = FIXTURES / "cfn_rooms" / "template.yaml"
TABLE = "cfn-rooms-members"  # !Sub '${AWS::StackName}-members': the project folder's name


@pytest.fixture(scope="module")
def rooms() -> Iterator[GatewayProcess]:
    with serving(TEMPLATE, "--parameter-overrides", "Greeting=hello") as running:
        yield running


def members(gateway: GatewayProcess) -> dict[str, str]:
    items = dynamodb(gateway).scan(TableName=TABLE)["Items"]
    return {i["connectionId"]["S"]: i.get("room", {}).get("S", "") for i in items}


@async_test
async def test_intrinsics_resolve_to_local_values(rooms):
    assert rooms.websocket_url.endswith("/v1")
    async with connect(rooms) as client:
        await client.send(json.dumps({"type": "join", "room": "lobby"}))
        joined = await receive(client)
    assert joined["role"] == "rooms"
    settings = joined["settings"]
    base = rooms.management_url.removesuffix("/v1")
    assert settings == {
        "MEMBERS_TABLE": TABLE,
        "MEMBERS_TABLE_ARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
        "ROOM_INDEX": "by-room",
        "CALLBACK_URL": f"{base}/v1",  # the execute-api URL of !Sub, pointed at the gateway
        "GREETING": "hello",  # Fn::If on a condition of the overridden parameter
        "MAX_MEMBERS": "50",
        "ACCOUNT": "123456789012",
        "AWS_REGION": "us-east-1",
    }


def test_the_table_has_its_key_schema_gsi_and_ttl(rooms):
    client = dynamodb(rooms)
    table = client.describe_table(TableName=TABLE)["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-room"]
    ttl = client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"


@async_test
async def test_a_room_broadcast_goes_through_the_gsi_and_the_templates_endpoint(rooms):
    async with connect(rooms) as ann, connect(rooms) as ben, connect(rooms) as cat:
        for client, room in ((ann, "a"), (ben, "a"), (cat, "b")):
            await client.send(json.dumps({"type": "join", "room": room}))
            await receive(client)
        await ann.send(json.dumps({"type": "say", "text": "hi a"}))
        for client in (ann, ben):
            frame = await receive(client)
            assert frame["room"] == "a" and frame["text"] == "hi a"
        with pytest.raises(TimeoutError):  # cat is in room b
            await asyncio.wait_for(cat.recv(), 0.5)
        await cat.send(json.dumps({"type": "say", "text": "hi b"}))
        assert (await receive(cat))["text"] == "hi b"


@async_test
async def test_connect_without_a_status_code_is_accepted_and_disconnect_cleans_up(rooms):
    before = set(members(rooms))
    async with connect(rooms) as client:  # the handler returns None on $connect
        await eventually(lambda: len(set(members(rooms)) - before) == 1)
        (mine,) = set(members(rooms)) - before
        await client.send(json.dumps({"type": "join", "room": "c"}))
        await receive(client)
    await eventually(lambda: mine not in members(rooms))
    with pytest.raises(ClientError) as gone:
        management(rooms).post_to_connection(ConnectionId=mine, Data=b"late")
    assert gone.value.response["Error"]["Code"] == "GoneException"
