"""The composition root: configuration from the environment, adapter choice, lazy and shared."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.policies import Limits
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import get_container, reset_container
from roomcast.entrypoints.settings import SETTINGS, ConfigurationError
from tests.support import events
from tests.support.gateway_stub import GatewayStub

ROOT = Path(__file__).resolve().parents[2]


class ClosableNotifier(FakeNotifier):
    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def ping(connection_id: str) -> None:
    handlers.message(events.message_event(connection_id, {"action": "ping"}), None)


def in_threads(count: int, work: Callable[[], Any]) -> list[Any]:
    barrier, results = threading.Barrier(count), [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class TestConfiguration:
    def test_defaults_work_with_only_the_table_name(self, environment: pytest.MonkeyPatch) -> None:
        environment.setenv("CONNECTIONS_TABLE", "dev-roomcast-connections")
        config = get_container().config()
        assert (config["store"], config["notifier"], config["fanout_concurrency"]) == (
            "dynamodb", "http", 50
        )
        assert get_container().limits() == Limits(1, 32768, 7200)

    def test_limits_come_from_the_environment(self, environment: pytest.MonkeyPatch) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("ROOMCAST_MAX_ROOMS_PER_CONNECTION", "3")
        environment.setenv("ROOMCAST_MAX_MESSAGE_BYTES", "1024")
        environment.setenv("ROOMCAST_CONNECTION_TTL_SECONDS", "600")
        assert get_container().limits() == Limits(3, 1024, 600)

    def test_room_size_limits_come_from_the_environment(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("ROOMCAST_MAX_MEMBERS_PER_ROOM", "40")
        environment.setenv("ROOMCAST_MAX_MEMBERS_IN_JOINED_ROOM", "25")
        limits = get_container().limits()
        assert (limits.max_members_per_room, limits.max_members_in_joined_room) == (40, 25)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("ROOMCAST_STORE", "foo"),
            ("ROOMCAST_NOTIFIER", "carrier-pigeon"),
            ("ROOMCAST_FANOUT_CONCURRENCY", "lots"),
            ("ROOMCAST_FANOUT_CONCURRENCY", "0"),
            ("ROOMCAST_MAX_ROOMS_PER_CONNECTION", "-1"),
            ("ROOMCAST_MAX_MESSAGE_BYTES", "32k"),
            ("ROOMCAST_CONNECTION_TTL_SECONDS", "2h"),
            ("WEBSOCKET_ENDPOINT", "ftp://example.com/dev"),
            ("ROOMCAST_MAX_MEMBERS_PER_ROOM", "0"),
            ("ROOMCAST_MAX_MEMBERS_IN_JOINED_ROOM", "505"),
        ],
    )
    def test_a_bad_value_fails_naming_the_variable(
        self, environment: pytest.MonkeyPatch, name: str, value: str
    ) -> None:
        environment.setenv("CONNECTIONS_TABLE", "t")
        environment.setenv(name, value)
        with pytest.raises(ConfigurationError, match=f"{name} .*{value!r}"):
            get_container()

    def test_every_setting_is_documented_in_the_readme(self) -> None:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        configuration = readme.split("## Configuration", 1)[1]
        for setting in SETTINGS:
            assert f"| `{setting.env}` |" in configuration, setting.env

    def test_the_dynamodb_store_needs_a_table_name(self, environment: pytest.MonkeyPatch) -> None:
        with pytest.raises(ConfigurationError, match="CONNECTIONS_TABLE"):
            get_container()


class TestAdapterChoice:
    def test_the_memory_store_is_one_instance_shared_by_every_thread(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        stores = in_threads(16, lambda: get_container().store())
        assert isinstance(stores[0], InMemoryConnectionStore)
        assert all(store is stores[0] for store in stores)

    def test_the_dynamodb_store_is_chosen_by_default(
        self, environment: pytest.MonkeyPatch, aws: None
    ) -> None:
        from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore

        environment.setenv("CONNECTIONS_TABLE", "t")
        assert isinstance(get_container().store(), DynamoDBConnectionStore)

    @pytest.mark.parametrize(
        ("choice", "class_name"),
        [
            ("http", "SignedHttpNotifier"),
            ("async", "AsyncFanoutNotifier"),
            ("sync", "PostToConnectionNotifier"),
        ],
    )
    def test_the_notifier_is_chosen_by_configuration(
        self, environment: pytest.MonkeyPatch, choice: str, class_name: str
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("ROOMCAST_NOTIFIER", choice)
        notifier = get_container().notifiers().get(events.ENDPOINT)
        assert type(notifier).__name__ == class_name


class TestNotifiersPerEndpoint:
    def test_one_notifier_per_endpoint_whatever_its_scheme(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        container = get_container()
        wss = container.notifiers().get(f"wss://{events.DOMAIN}/dev/")
        assert container.notifiers().get(f"https://{events.DOMAIN}/dev") is wss
        assert container.notifiers().get(f"https://{events.DOMAIN}/prod") is not wss

    def test_websocket_endpoint_wins_over_the_event(self, environment: pytest.MonkeyPatch) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("WEBSOCKET_ENDPOINT", "ws://127.0.0.1:8001/local")
        built: list[str] = []
        get_container().notifier_factory.override(
            providers.Callable(lambda endpoint: built.append(endpoint) or FakeNotifier())
        )
        ping(events.new_connection_id())
        assert built == ["http://127.0.0.1:8001/local"]

    def test_without_websocket_endpoint_the_event_names_it(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        built: list[str] = []
        get_container().notifier_factory.override(
            providers.Callable(lambda endpoint: built.append(endpoint) or FakeNotifier())
        )
        ping(events.new_connection_id())
        ping(events.new_connection_id())
        assert built == [events.ENDPOINT]

    def test_connect_builds_no_notifier(self, environment: pytest.MonkeyPatch) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        built: list[str] = []
        get_container().notifier_factory.override(
            providers.Callable(lambda endpoint: built.append(endpoint) or FakeNotifier())
        )
        handlers.connect(events.connect_event(events.new_connection_id()), None)
        assert built == []

    def test_a_queue_set_builds_no_sqs_client_until_a_broadcast_needs_it(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        environment.setenv("FANOUT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q")
        handlers.connect(events.connect_event(events.new_connection_id()), None)
        sharding = get_container().sharding()
        assert sharding is not None and sharding.shard_size == 2_000
        assert sharding.queue._client._client is None

    def test_reset_closes_the_notifiers_and_the_next_use_rebuilds(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        first = get_container()
        first.notifier_factory.override(providers.Factory(ClosableNotifier))
        notifier = first.notifiers().get(events.ENDPOINT)
        reset_container()
        assert notifier.closed
        assert get_container() is not first


class TestConcurrentHandlers:
    def test_handlers_called_from_many_threads_share_one_memory_store(
        self, environment: pytest.MonkeyPatch
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "memory")
        fake = FakeNotifier()
        get_container().notifier.override(providers.Object(fake))

        def connect_and_join() -> str:
            connection_id = events.new_connection_id()
            handlers.connect(events.connect_event(connection_id, {"userId": "u"}), None)
            join = {"action": "joinRoom", "roomId": "lobby"}
            handlers.message(events.message_event(connection_id, join), None)
            return connection_id

        in_threads(12, connect_and_join)
        stats = get_container().store().stats()
        assert (stats.total_connections, dict(stats.room_counts)) == (12, {"lobby": 12})


class TestColdStart:
    def test_importing_the_handlers_builds_no_client_and_imports_no_sdk(self) -> None:
        assert run_probe("import roomcast.entrypoints.aws_lambda.handlers") == "[]"

    def test_a_connect_on_the_memory_store_imports_no_sdk(self) -> None:
        probe = (
            "import os; os.environ['ROOMCAST_STORE'] = 'memory'\n"
            "from roomcast.entrypoints.aws_lambda import handlers\n"
            "from tests.support.events import connect_event\n"
            "assert handlers.connect(connect_event('c-1'), None)['statusCode'] == 200\n"
        )
        assert run_probe(probe) == "[]"

    def test_a_send_to_a_small_room_imports_neither_boto3_nor_aiohttp(self) -> None:
        stub = GatewayStub()
        try:
            probe = (
                "import os\n"
                "os.environ.update(ROOMCAST_STORE='memory')\n"
                f"os.environ.update(WEBSOCKET_ENDPOINT={stub.endpoint!r})\n"
                "os.environ.update(AWS_ACCESS_KEY_ID='k', AWS_SECRET_ACCESS_KEY='s')\n"
                "os.environ.update(AWS_DEFAULT_REGION='us-east-1')\n"
                "from roomcast.entrypoints.aws_lambda import handlers\n"
                "from tests.support.events import connect_event, message_event\n"
                "for member in ('c-1', 'c-2'):\n"
                "    handlers.connect(connect_event(member, {'userId': member}), None)\n"
                "    join = {'action': 'joinRoom', 'roomId': 'lobby'}\n"
                "    handlers.message(message_event(member, join), None)\n"
                "send = {'action': 'sendMessage', 'roomId': 'lobby', 'message': 'hi'}\n"
                "assert handlers.message(message_event('c-1', send), None)['statusCode'] == 200\n"
            )
            assert run_probe(probe) == "['botocore']"
            assert b'"message":"hi"' in stub.received("c-2")[-1].replace(b" ", b"")
        finally:
            stub.close()


def run_probe(code: str) -> str:
    """Runs `code` in a fresh interpreter and names the AWS SDKs (and the HTTP client the
    default notifier posts with) it imported: with none imported, no client can have been
    built and no request sent."""
    probe = (
        "import sys\n"
        f"{code}\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'aiobotocore', 'aiohttp')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after the handler's EMF line
