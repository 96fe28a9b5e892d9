"""Handlers under moto: a fake AWS account, the table from the template, a fresh container."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from dependency_injector import providers
from moto import mock_aws

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.entrypoints.containers import Container, get_container, reset_container
from roomcast.entrypoints.gateway.template import load_template, table_definition, ttl_attribute
from roomcast.entrypoints.settings import SETTINGS
from tests.integration.harness import Gateway, fake_frames, moto_frames
from tests.support.events import REGION

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/roomcast-tests/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/roomcast-tests/credentials",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean roomcast environment and no process-wide container before and after."""
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    reset_container()
    yield monkeypatch
    reset_container()


@pytest.fixture
def aws(environment: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> str:
    template = load_template()
    client = boto3.client("dynamodb", region_name=REGION)
    name = f"roomcast-it-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=name, **table_definition(template))
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"AttributeName": ttl_attribute(template), "Enabled": True},
    )
    return name


@pytest.fixture(params=["dynamodb", "memory"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def deployed(environment: pytest.MonkeyPatch, table: str, store_kind: str) -> Container:
    """As deployed, but with the boto3 notifier: moto in-process cannot answer aiobotocore."""
    environment.setenv("CONNECTIONS_TABLE", table)
    environment.setenv("ROOMCAST_STORE", store_kind)
    environment.setenv("ROOMCAST_NOTIFIER", "sync")
    return get_container()


@pytest.fixture
def gateway(deployed: Container) -> Gateway:
    return Gateway(moto_frames)


@pytest.fixture
def faked(deployed: Container, clock: FixedClock, fake_notifier: FakeNotifier) -> Container:
    """The deployed wiring with a steerable clock and a notifier fake, through override()."""
    deployed.clock.override(providers.Object(clock))
    deployed.notifier.override(providers.Object(fake_notifier))
    return deployed


@pytest.fixture
def faked_gateway(faked: Container, fake_notifier: FakeNotifier) -> Gateway:
    return Gateway(fake_frames(fake_notifier))
