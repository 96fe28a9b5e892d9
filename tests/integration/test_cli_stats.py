"""`roomcast stats`: the live connections and the members per room, read from the configured
store."""

from __future__ import annotations

import json

import pytest

from roomcast.entrypoints.cli.main import main
from tests.integration.harness import Gateway


class TestStatsCommand:
    @pytest.mark.parametrize("store_kind", ["dynamodb"])
    def test_stats_count_live_connections_and_members_per_room(
        self, gateway: Gateway, table: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        alice, bob, _idle = gateway.connect("alice"), gateway.connect("bob"), gateway.connect()
        gateway.join(alice, "lobby")
        gateway.join(bob, "lobby")
        capsys.readouterr()  # the handlers' own stdout (their EMF metrics), not the report
        assert main(["stats", "--table", table]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["totalConnections"], report["roomCounts"]) == (3, {"lobby": 2})
        assert isinstance(report["timestamp"], int)

    @pytest.mark.parametrize("store_kind", ["dynamodb"])
    def test_json_is_taken_as_by_every_operator_command(
        self, gateway: Gateway, table: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        gateway.join(gateway.connect("alice"), "lobby")
        capsys.readouterr()
        assert main(["stats", "--json", "--table", table]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["totalConnections"], report["roomCounts"]) == (1, {"lobby": 1})

    def test_a_bad_setting_exits_2_naming_the_variable(
        self, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        environment.setenv("ROOMCAST_STORE", "foo")
        assert main(["stats"]) == 2
        assert "ROOMCAST_STORE" in capsys.readouterr().err

    def test_the_table_is_required_for_the_dynamodb_store(
        self, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["stats"]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith("roomcast stats: CONNECTIONS_TABLE is required")
        # ... and how else to get counts: from a running gateway.
        assert line.endswith("(or --table); --gateway URL reads a running roomcast serve "
                             "instead, e.g. --gateway http://127.0.0.1:8080/dev")

    def test_a_malformed_gateway_url_is_one_line_with_the_fix(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["stats", "--gateway", "127.0.0.1:8080"]) == 2
        assert capsys.readouterr().err == (
            "roomcast stats: --gateway '127.0.0.1:8080' is not a gateway URL: write it as "
            "--gateway http://127.0.0.1:8080/dev\n"
        )
