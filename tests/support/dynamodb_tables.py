"""DynamoDB tables for the store tests: moto in-process, or one moto_server per session.

Tables are created from infra/template.yaml, so the template and the adapter cannot disagree.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from moto import mock_aws

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore, make_dynamodb_client
from roomcast.entrypoints.gateway.template import load_template, table_definition, ttl_attribute
from tests.support import moto_transactions
from tests.support.moto_server import moto_server_url

REGION = "us-east-1"
DYNAMODB_BACKENDS = ("moto", "moto-server")

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    # Nothing from the developer's ~/.aws may redirect or authenticate these clients.
    "AWS_CONFIG_FILE": "/nonexistent/roomcast-tests/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/roomcast-tests/credentials",
}
UNSET_AWS_ENVIRONMENT = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")


def fake_aws_environment(request: pytest.FixtureRequest) -> pytest.MonkeyPatch:
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in UNSET_AWS_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


class DynamoDBTable(NamedTuple):
    client: Any
    name: str


def dynamodb_table(request: pytest.FixtureRequest, backend: str) -> DynamoDBTable:
    """A fresh connections table on `backend` and a client for it; both go after the test."""
    monkeypatch = fake_aws_environment(request)
    if backend == "moto":
        moto_transactions.install()
        mock = mock_aws()
        mock.start()
        request.addfinalizer(mock.stop)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server_url(request.config))
    client = make_dynamodb_client(REGION)
    table_name = f"roomcast-test-{uuid.uuid4().hex}"
    create_table(client, table_name)
    request.addfinalizer(lambda: client.delete_table(TableName=table_name))
    return DynamoDBTable(client, table_name)


def create_table(client: Any, table_name: str) -> None:
    template = _template()
    client.create_table(TableName=table_name, **table_definition(template))
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"AttributeName": ttl_attribute(template), "Enabled": True},
    )


@functools.cache
def _template() -> dict[str, Any]:
    return load_template()


def _store_on(backend: str) -> Callable[[pytest.FixtureRequest, FixedClock], Any]:
    def factory(request: pytest.FixtureRequest, clock: FixedClock) -> DynamoDBConnectionStore:
        table = dynamodb_table(request, backend)
        return DynamoDBConnectionStore(table.client, table.name, clock)

    return factory


DYNAMODB_STORE_FACTORIES = {
    f"dynamodb-{backend}": _store_on(backend) for backend in DYNAMODB_BACKENDS
}
