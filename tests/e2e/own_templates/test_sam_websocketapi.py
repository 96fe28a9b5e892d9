"""`roomcast serve --template` on `AWS::Serverless::WebSocketApi` (tests/fixtures/templates/
sam_websocketapi): its Routes map, StageName and a REQUEST authorizer in Auth; and the
one-line refusals for what a local run cannot do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.own_templates.support import (
    FIXTURES,
    connect,
    dynamodb,
    receive,
    serve_until_exit,
    serving,
)
from tests.e2e.support import async_test, eventually

pytestmark = pytest.mark.e2e

PROJECT = FIXTURES / "sam_websocketapi"
TEMPLATE = PROJECT / "template.yaml"


@pytest.fixture(scope="module")
def echo() -> Iterator[GatewayProcess]:
    with serving(TEMPLATE) as running:
        yield running


def sessions(gateway: GatewayProcess) -> list[dict[str, str]]:
    client = dynamodb(gateway)
    (table,) = [n for n in client.list_tables()["TableNames"] if "SessionsTable" in n]
    items = client.scan(TableName=table)["Items"]
    return [{k: v["S"] for k, v in item.items()} for item in items]


def test_the_stage_is_the_apis_stage_name(echo):
    assert echo.websocket_url.endswith("/live")


@async_test
async def test_the_authorizer_guards_connect_as_api_gateway_runs_it(echo):
    for query, status in (("", 401), ("token=ivan:wrong", 403)):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(echo, query):
                pass
        assert refused.value.response.status_code == status


@async_test
async def test_an_allowed_connection_echoes_with_the_authorizers_context(echo):
    async with connect(echo, "token=judy:let-me-in") as judy:
        await judy.send(json.dumps({"action": "anything", "n": 1}))
        answer = await receive(judy)
        assert answer == {"echo": {"action": "anything", "n": 1}, "user": "judy", "plan": "free"}
        assert {"user": "judy", "plan": "free"}.items() <= sessions(echo)[-1].items()
    await eventually(lambda: all(s["user"] != "judy" for s in sessions(echo)))


@async_test
async def test_nothing_reaches_aws_without_allow_aws(echo):
    async with connect(echo, "token=ken:let-me-in") as ken:
        await ken.send(json.dumps({"action": "s3"}))
        answer = await receive(ken)
    assert "refused a call to https://s3" in answer["s3"] and "--allow-aws" in answer["s3"]


def copy_with(tmp_path: Path, old: str, new: str) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    template = project / "template.yaml"
    text = template.read_text(encoding="utf-8")
    assert old in text
    template.write_text(text.replace(old, new, 1), encoding="utf-8")
    return template


def test_an_intrinsic_with_no_local_value_is_one_line_naming_resource_and_property(tmp_path):
    template = copy_with(
        tmp_path, "SECRET: !Ref Secret", "SECRET: !ImportValue shared-secret"
    )
    result = serve_until_exit(template)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "AuthorizerFunction Environment.Variables.SECRET" in line
    assert "Fn::ImportValue" in line


def test_a_runtime_that_is_not_python_is_one_line(tmp_path):
    handler = "      Handler: echo.handler"
    template = copy_with(tmp_path, handler, f"{handler}\n      Runtime: nodejs20.x")
    result = serve_until_exit(template)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "EchoFunction" in line and "nodejs20.x" in line
