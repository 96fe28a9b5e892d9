"""`roomcast connections | rooms | cleanup | post | kick` against a moto_server over HTTP, on a
table of several Scan pages (1 MB each), and the one-line errors of a bad setup."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
from roomcast.domain.model import Connection, ConnectionId, RoomId, UserId
from roomcast.entrypoints.cli.main import main
from roomcast.entrypoints.cli.progress import Progress
from roomcast.entrypoints.gateway.template import load_template, table_definition
from tests.support.gateway_stub import GatewayStub
from tests.support.moto_server import REPOSITORY, moto_server_url

LIVE, EXPIRED, IN_LOBBY = 900, 100, 30
PADDING = "x" * 3000  # ~3 KB per connection item: 1,000 of them fill several Scan pages
FAKE_AWS = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "cli",
            "AWS_SECRET_ACCESS_KEY": "cli"}


def connection(number: int, expires_at: int, now_ms: int) -> Connection:
    return Connection(id=ConnectionId(f"conn-{number:05d}="), user_id=UserId(f"user-{number}"),
                      connected_at=now_ms, expires_at=expires_at, user_agent=PADDING)


@pytest.fixture(scope="module")
def served_table(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(moto_server URL, table): LIVE connections (IN_LOBBY of them in `lobby`) and EXPIRED."""
    url = moto_server_url(request.config)
    client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="cli", aws_secret_access_key="cli")
    name = f"roomcast-cli-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=name, **table_definition(load_template()))
    now_ms = int(time.time() * 1000)
    store = DynamoDBConnectionStore(client, name, FixedClock(now_ms))
    for number in range(LIVE + EXPIRED):
        expires_at = now_ms // 1000 + (7200 if number < LIVE else -60)
        store.add(connection(number, expires_at, now_ms))
    for number in range(IN_LOBBY):
        stored = store.get(ConnectionId(f"conn-{number:05d}="))
        assert stored is not None
        store.join(stored, RoomId("lobby"), now_ms)
    yield url, name
    client.delete_table(TableName=name)


@pytest.fixture
def against_moto(
    served_table: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    url, table = served_table
    for name, value in {**FAKE_AWS, "AWS_ENDPOINT_URL_DYNAMODB": url,
                        "CONNECTIONS_TABLE": table}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "WEBSOCKET_ENDPOINT", "ROOMCAST_STORE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return url, table


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


class TestListings:
    def test_the_table_is_big_enough_to_page(self, against_moto: tuple[str, str]) -> None:
        url, table = against_moto
        client = boto3.client("dynamodb", endpoint_url=url)
        assert "LastEvaluatedKey" in client.scan(TableName=table)

    def test_connections_lists_every_live_connection_from_every_page(
        self, against_moto: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        rows = run_json(capsys, "connections")
        assert len(rows) == LIVE
        assert {row["userId"] for row in rows} == {f"user-{n}" for n in range(LIVE)}
        in_lobby = [row for row in rows if row["rooms"] == ["lobby"]]
        assert len(in_lobby) == IN_LOBBY
        assert set(rows[0]) == {"connectionId", "userId", "rooms", "connectedAt"}

    def test_rooms_counts_the_members_of_each_room(
        self, against_moto: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        [lobby] = run_json(capsys, "rooms")
        assert (lobby["roomId"], lobby["members"]) == ("lobby", IN_LOBBY)
        assert lobby["users"] == sorted(f"user-{n}" for n in range(IN_LOBBY))

    def test_without_json_a_table_a_person_can_read(
        self, against_moto: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["rooms"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["ROOM", "MEMBERS", "USERS"]
        assert lines[1].split()[:2] == ["lobby", str(IN_LOBBY)]
        assert lines[-1] == "1 room"


class TestCleanup:
    def test_the_sweep_removes_the_expired_with_progress_on_stderr(
        self, against_moto: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        url, table = against_moto
        assert main(["cleanup", "--endpoint", url]) == 0
        captured = capsys.readouterr()
        assert captured.out.strip() == f"checked {LIVE + EXPIRED} connections, removed {EXPIRED}"
        total = LIVE + EXPIRED
        lines = captured.err.splitlines()
        assert len(lines) == 11  # a line per tenth when stderr is not a terminal
        assert lines[-1] == "cleanup [" + "#" * 30 + f"] {total}/{total} 100%"
        client = boto3.client("dynamodb", endpoint_url=url)
        stored = list(DynamoDBConnectionStore(client, table, FixedClock()).connections())
        assert len(stored) == LIVE
        assert run_json(capsys, "cleanup", "--endpoint", url) == {"checked": LIVE, "removed": 0}


class TestPostAndKick:
    def test_post_and_kick_go_through_the_management_api(
        self, against_moto: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        url, _ = against_moto
        posted = run_json(capsys, "post", "conn-00001=", '{"action":"notice"}', "--endpoint", url)
        assert posted == {"connectionId": "conn-00001=", "posted": 19}
        kicked = run_json(capsys, "kick", "conn-00001=", "--endpoint", url)
        assert kicked == {"connectionId": "conn-00001=", "kicked": True}

    def test_post_dash_sends_standard_input_as_is(
        self, against_moto: tuple[str, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        stub = GatewayStub(stage="dev")
        try:
            frame = '{"action":"notice","text":"from stdin, é"}\n'.encode()
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(frame)))
            posted = run_json(capsys, "post", "conn-00002=", "-", "--endpoint", stub.endpoint)
            assert posted == {"connectionId": "conn-00002=", "posted": len(frame)}
            assert stub.received("conn-00002=") == [frame]  # not a literal "-"
        finally:
            stub.close()

    def test_post_without_an_endpoint_says_which_setting_is_missing(
        self, against_moto: tuple[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["post", "conn-00001=", "hi"]) == 2
        assert "WEBSOCKET_ENDPOINT" in capsys.readouterr().err


class TestErrors:
    """Run as a user would: a real process, its exit code and its stderr."""

    def roomcast(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("AWS_", "ROOMCAST_", "CONNECTIONS_", "WEBSOCKET_"))}
        return subprocess.run(
            [sys.executable, "-m", "roomcast.entrypoints.cli", *argv], cwd=REPOSITORY,
            env={**keep, "AWS_CONFIG_FILE": "/nonexistent", **env},
            capture_output=True, text=True, timeout=60,
        )

    def assert_one_line(self, result: subprocess.CompletedProcess[str], code: int,
                        *words: str) -> None:
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
        [line] = result.stderr.splitlines()
        for word in words:
            assert word in line

    def test_no_table_configured(self) -> None:
        self.assert_one_line(self.roomcast("connections"), 2, "CONNECTIONS_TABLE", "--table")

    def test_no_region_configured(self) -> None:
        self.assert_one_line(self.roomcast("rooms", "--table", "t"), 2, "region")

    def test_a_profile_that_does_not_exist(self) -> None:
        result = self.roomcast("rooms", "--table", "t", AWS_PROFILE="nope")
        self.assert_one_line(result, 2, "profile (nope)")

    def test_a_table_that_does_not_exist(self, served_table: tuple[str, str]) -> None:
        url, _ = served_table
        result = self.roomcast("connections", "--table", "nope",
                               AWS_ENDPOINT_URL_DYNAMODB=url, **FAKE_AWS)
        self.assert_one_line(result, 2, "ResourceNotFoundException")

    def test_a_gateway_that_is_not_running(self) -> None:
        result = self.roomcast("connections", "--gateway", "http://127.0.0.1:9")
        self.assert_one_line(result, 1, "cannot reach the gateway at http://127.0.0.1:9")

    @pytest.mark.parametrize(
        "command", [["connections"], ["rooms"], ["cleanup"], ["post", "ID", "hi"], ["kick", "ID"],
                    ["stats"]], ids=lambda command: command[0],
    )
    @pytest.mark.parametrize(
        ("url", "fix"),
        [("notaurl", "http://127.0.0.1:8080/dev"),  # was a traceback: unknown url type
         ("127.0.0.1:8080", "http://127.0.0.1:8080/dev"),  # was: unknown url type: 127.0.0.1
         ("localhost:9000/prod", "http://localhost:9000/prod"),
         ("http://", "http://127.0.0.1:8080/dev"),
         ("ftp://127.0.0.1:8080", "http://127.0.0.1:8080/dev"),
         ("http://127.0.0.1:eighty/dev", "http://127.0.0.1:8080/dev"),
         ("http://127.0.0.1:8080/dev/@connections/x", "http://127.0.0.1:8080/dev")],
    )
    def test_a_malformed_gateway_url_is_one_line_with_the_fix(
        self, command: list[str], url: str, fix: str
    ) -> None:
        result = self.roomcast(*command, "--gateway", url)
        self.assert_one_line(result, 2, f"roomcast {command[0]}: --gateway {url!r} is not a "
                             f"gateway URL: write it as --gateway {fix}")

    @pytest.mark.parametrize(
        "command", [["connections"], ["cleanup"], ["post", "ID", "hi"], ["kick", "ID"]],
        ids=lambda command: command[0],
    )
    @pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:8080", "https://"])
    def test_a_malformed_endpoint_is_one_line_naming_the_option(
        self, command: list[str], url: str
    ) -> None:
        result = self.roomcast(*command, "--endpoint", url, "--table", "t", **FAKE_AWS)
        self.assert_one_line(result, 2, f"--endpoint {url!r} is not a Management API endpoint",
                             "write it as --endpoint https://", "ManagementEndpoint")

    def test_a_malformed_dynamodb_endpoint_names_its_variable(self) -> None:
        result = self.roomcast("rooms", "--table", "t", AWS_ENDPOINT_URL_DYNAMODB="notaurl",
                               **FAKE_AWS)
        self.assert_one_line(result, 2, "AWS_ENDPOINT_URL_DYNAMODB 'notaurl' is not a URL")

    def test_without_a_table_it_says_that_a_gateway_can_be_read_instead(self) -> None:
        result = self.roomcast("rooms")
        self.assert_one_line(result, 2, "CONNECTIONS_TABLE", "--table",
                             "--gateway URL reads a running roomcast serve")

    def test_cleanup_needs_the_table_even_with_a_gateway(self) -> None:
        result = self.roomcast("cleanup", "--gateway", "http://127.0.0.1:9")
        self.assert_one_line(result, 2, "CONNECTIONS_TABLE", "--table")
        assert "reads a running roomcast serve" not in result.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestProgressBar:
    def test_on_a_terminal_it_redraws_one_line_in_place_and_ends_at_the_total(self) -> None:
        terminal = Terminal()
        progress = Progress("cleanup", 3, terminal)
        for done in (1, 2, 3):
            progress.update(done)
        progress.finish()
        drawn = terminal.getvalue()
        assert drawn.startswith("\rcleanup [") and drawn.count("\n") == 1
        assert drawn.endswith("\rcleanup [" + "#" * 30 + "] 3/3 100%\n")

    def test_an_empty_table_is_done_at_once(self) -> None:
        assert Progress("cleanup", 0, io.StringIO()).line(0).endswith("0/0 100%")
