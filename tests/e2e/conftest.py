"""e2e fixtures: gateways started as `roomcast serve` subprocesses on loopback ports."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from roomcast.entrypoints.gateway.template import load_template, table_definition
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.e2e.protocol_check import frames_follow_the_asyncapi_document  # noqa: F401
from tests.e2e.support import write_e2e_template
from tests.support import moto_transactions
from tests.support.moto_server import moto_server_url

StartGateway = Callable[..., GatewayProcess]
_rooms = itertools.count(1)


@pytest.fixture(scope="session")
def e2e_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_e2e_template(tmp_path_factory.mktemp("template"))


NOTIFIERS = ["inprocess", "http"]


@pytest.fixture(scope="module", params=NOTIFIERS)
def gateway(
    e2e_template: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[GatewayProcess]:
    """One gateway per test module and notifier (straight to the sockets, or PostToConnection
    through the management API), recording every event; tests use rooms of their own."""
    event_log = tmp_path_factory.mktemp("events") / "events.jsonl"
    arguments = ("--template", str(e2e_template), "--notifier", request.param)
    running = start_gateway(*arguments, event_log=event_log)
    yield running
    running.stop()


@pytest.fixture
def start(e2e_template: Path, tmp_path: Path) -> Iterator[StartGateway]:
    """Start a gateway with extra `roomcast serve` arguments; all are stopped after the test."""
    started: list[GatewayProcess] = []

    def start_with(*arguments: str, env: dict[str, str] | None = None) -> GatewayProcess:
        event_log = tmp_path / f"events-{len(started)}.jsonl"
        template = () if "--template" in arguments else ("--template", str(e2e_template))
        running = start_gateway(*template, *arguments, env=env, event_log=event_log)
        started.append(running)
        return running

    yield start_with
    for running in started:
        running.stop()


@pytest.fixture
def room() -> str:
    return f"room-{next(_rooms)}"


@pytest.fixture(scope="module")
def dynamodb_settings() -> Iterator[dict[str, str]]:
    """A moto_server on a loopback port with the template's table: the gateway's environment.

    The table's name is the module's own: moto servers in one process share one backend."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_transactions.install()  # transactions isolated from each other, as DynamoDB's are
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://{host}:{port}",
        "CONNECTIONS_TABLE": f"e2e-roomcast-{uuid.uuid4().hex[:12]}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "e2e",
        "AWS_SECRET_ACCESS_KEY": "e2e",
    }
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=settings["AWS_ENDPOINT_URL_DYNAMODB"],
        region_name=settings["AWS_DEFAULT_REGION"],
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )
    dynamodb.create_table(
        TableName=settings["CONNECTIONS_TABLE"], **table_definition(load_template())
    )
    yield settings
    server.stop()


@pytest.fixture
def dynamodb_table(request: pytest.FixtureRequest) -> tuple[dict[str, str], Any]:
    """A table of its own on the session's moto_server (a process of its own): the
    gateway's environment, and a client to it."""
    settings = {
        "AWS_ENDPOINT_URL_DYNAMODB": moto_server_url(request.config),
        "CONNECTIONS_TABLE": f"e2e-{uuid.uuid4().hex[:12]}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "e2e",
        "AWS_SECRET_ACCESS_KEY": "e2e",
    }
    client = boto3.client(
        "dynamodb", endpoint_url=settings["AWS_ENDPOINT_URL_DYNAMODB"], region_name="us-east-1",
        aws_access_key_id="e2e", aws_secret_access_key="e2e",
    )
    client.create_table(TableName=settings["CONNECTIONS_TABLE"],
                        **table_definition(load_template()))
    return settings, client
