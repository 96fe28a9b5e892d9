"""`roomcast serve --template` on a SAM project as people write one (tests/fixtures/
templates/sam_chat): four functions in CodeUri folders, all `handler.handle` with a
`utils.py` each, Globals, tables named by parameters. Real WebSocket clients, real boto3 in
the functions, the embedded DynamoDB."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from websockets.exceptions import InvalidStatus

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.own_templates.support import (
    FIXTURES,
    connect,
    dynamodb,
    management,
    receive,
    roomcast,
    serve_until_exit,
    serving,
)
from tests.e2e.support import async_test, eventually

pytestmark = pytest.mark.e2e

PROJECT = FIXTURES / "sam_chat"
TEMPLATE = PROJECT / "template.yaml"


@pytest.fixture(scope="module")
def chat() -> Iterator[GatewayProcess]:
    with serving(TEMPLATE) as running:
        yield running


def connection_names(gateway: GatewayProcess) -> dict[str, str]:
    items = dynamodb(gateway).scan(TableName="sam-chat-connections")["Items"]
    return {item["connectionId"]["S"]: item["name"]["S"] for item in items}


class TestServing:
    def test_the_stage_is_the_templates_own_and_the_banner_names_every_function(self, chat):
        assert chat.websocket_url.endswith("/prod")
        banner = "\n".join(chat.output)
        for function, folder in [
            ("OnConnectFunction", "on_connect/"), ("OnDisconnectFunction", "on_disconnect/"),
            ("SendMessageFunction", "send_message/"), ("DefaultFunction", "default/"),
        ]:
            assert f"{function} (" in banner and f"{folder}, handler.handle)" in banner
        assert len([line for line in chat.output if line.startswith("warning:")]) <= 1
        assert "Chat page" not in banner

    def test_the_templates_tables_exist_locally_with_their_keys_and_ttl(self, chat):
        client = dynamodb(chat)
        table = client.describe_table(TableName="sam-chat-connections")["Table"]
        assert table["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
        ttl = client.describe_time_to_live(TableName="sam-chat-connections")
        assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
        simple = client.describe_table(TableName="sam-chat-messages")["Table"]
        assert simple["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


class TestIsolation:
    @async_test
    async def test_each_function_has_its_own_modules_environment_and_folder(self, chat):
        async with connect(chat, "name=alice") as alice, connect(chat, "name=bob") as bob:
            await alice.send(json.dumps({"action": "sendmessage", "text": "hello"}))
            frames = [await receive(alice), await receive(bob)]
            for frame in frames:
                assert frame["handledBy"] == "send_message"  # its own utils.py
                assert frame["connectHandledBy"] == "on_connect"  # ...and on_connect's its own
                assert frame["onlyInDefault"] is None  # another function's variable is not here
                assert frame["functionName"].endswith("SendMessageFunction")
                assert Path(frame["cwd"]) == PROJECT / "send_message"
            await alice.send(json.dumps({"action": "nothing-routes-this"}))
            answer = await receive(alice)  # $default is two-way: its body comes back
            assert answer["handledBy"] == "default"
            assert answer["onlyInDefault"] == "set for DefaultFunction alone"
            assert 0 < answer["remainingMs"] <= 10_000  # Globals' Timeout: 10

    @async_test
    async def test_a_function_stays_warm_between_invocations(self, chat):
        async with connect(chat, "name=carol") as carol:
            counts = []
            for text in ("one", "two"):
                await carol.send(json.dumps({"action": "sendmessage", "text": text}))
                frame = await receive(carol)
                while frame.get("text") != text:
                    frame = await receive(carol)
                counts.append(frame["invocations"])
            assert counts[1] == counts[0] + 1


class TestThroughDynamoDB:
    @async_test
    async def test_connections_and_messages_are_items_and_disconnect_removes_them(self, chat):
        async with connect(chat, "name=dave") as dave:
            names = connection_names(chat)
            assert "dave" in names.values()
            await dave.send(json.dumps({"action": "sendmessage", "text": "stored"}))
            await receive(dave)
            messages = dynamodb(chat).scan(TableName="sam-chat-messages")["Items"]
            assert {"dave"} <= {m["from"]["S"] for m in messages if m["text"]["S"] == "stored"}
        await eventually(lambda: "dave" not in connection_names(chat).values())

    @async_test
    async def test_a_post_to_a_closed_peer_is_a_gone_exception(self, chat):
        async with connect(chat, "name=erin") as erin:
            async with connect(chat, "name=frank"):
                pass
            await eventually(lambda: "frank" not in connection_names(chat).values())
            stale = "c3RhbGUtY29ubmVjdGlvbg="
            dynamodb(chat).put_item(
                TableName="sam-chat-connections",
                Item={"connectionId": {"S": stale}, "name": {"S": "ghost"},
                      "connectHandledBy": {"S": "test"}},
            )
            await erin.send(json.dumps({"action": "sendmessage", "text": "anyone?"}))
            frame = await receive(erin)
            while "gone" not in frame:
                frame = await receive(erin)
            assert frame == {"gone": [stale]}  # the function caught GoneException, and cleaned up
            assert stale not in connection_names(chat)
        with pytest.raises(ClientError) as gone:
            management(chat).post_to_connection(ConnectionId=stale, Data=b"x")
        assert gone.value.response["Error"]["Code"] == "GoneException"


class TestApiGatewayBehaviour:
    @async_test
    async def test_connect_refusing_with_a_status_refuses_the_handshake(self, chat):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(chat, "name=mallory"):
                pass
        assert refused.value.response.status_code == 403

    @async_test
    async def test_a_raising_handler_gets_the_error_frame_and_its_traceback_is_printed(
        self, chat
    ):
        async with connect(chat, "name=grace") as grace:
            await grace.send(json.dumps({"action": "boom"}))
            frame = await receive(grace)
            assert frame["message"] == "Internal server error"
            assert set(frame) == {"message", "connectionId", "requestId"}
        await eventually(lambda: any("RuntimeError: boom" in line for line in chat.output))
        log = "\n".join(chat.output)
        assert "[DefaultFunction] Traceback (most recent call last):" in log
        assert 'default/handler.py", line' in log


def test_an_import_failure_names_the_function_the_module_and_its_requirements(tmp_path):
    project = tmp_path / "broken"
    shutil.copytree(PROJECT, project)
    handler = project / "on_connect" / "handler.py"
    handler.write_text("import not_installed_anywhere\n" + handler.read_text(), encoding="utf-8")
    started = time.monotonic()
    result = serve_until_exit(project / "template.yaml")
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "OnConnectFunction" in line and "not_installed_anywhere" in line
    assert "on_connect/requirements.txt" in line
    assert time.monotonic() - started < 60


def test_the_stage_flag_wins_over_the_templates():
    with serving(TEMPLATE, "--stage", "beta") as running:
        assert running.websocket_url.endswith("/beta")

        async def say() -> dict[str, object]:
            async with connect(running, "name=heidi") as heidi:
                await heidi.send(json.dumps({"action": "sendmessage", "text": "in beta"}))
                return await receive(heidi)  # posted to https://{domainName}/beta

        assert asyncio.run(say())["text"] == "in beta"


class TestOperatorCommands:
    @async_test
    async def test_connections_post_and_kick_work_on_any_template(self, chat):
        base = chat.management_url.rsplit("/", 1)[0]
        async with connect(chat, "name=ivy") as ivy:
            (mine,) = [c for c, name in connection_names(chat).items() if name == "ivy"]
            listed = await asyncio.to_thread(roomcast, "connections", "--json", "--gateway", base)
            assert listed.returncode == 0, listed.stderr
            assert mine in {row["connectionId"] for row in json.loads(listed.stdout)}
            posted = await asyncio.to_thread(
                roomcast, "post", mine, '{"from": "operator"}', "--gateway", base
            )
            assert posted.returncode == 0, posted.stderr
            assert await receive(ivy) == {"from": "operator"}
            kicked = await asyncio.to_thread(roomcast, "kick", mine, "--gateway", base)
            assert kicked.returncode == 0, kicked.stderr
            await asyncio.wait_for(ivy.wait_closed(), 10)
        await eventually(lambda: "ivy" not in connection_names(chat).values())
