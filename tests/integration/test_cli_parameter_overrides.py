"""`roomcast serve --parameter-overrides`: KEY=VALUE pairs the template must declare and
allow, reaching the handlers' environment as the deployed functions' would, and a stack that
can run (the authorizer with a key to check tokens with)."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path

import pytest

from roomcast.entrypoints.cli.main import main
from roomcast.entrypoints.gateway.template import (
    ParameterError,
    TemplateError,
    check_parameter,
    load_template,
    parameter_environment,
    with_parameters,
)
from roomcast.entrypoints.settings import KEY_SOURCES, SETTINGS

TEMPLATE = load_template()


class TestParameterOverrides:
    @pytest.mark.parametrize("override", ["Authentication", "=authorizer"])
    def test_an_override_that_is_not_key_equals_value_is_refused(
        self, override: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as refused:
            main(["serve", "--parameter-overrides", override])
        assert refused.value.code == 2
        assert "a parameter override is KEY=VALUE" in capsys.readouterr().err

    def test_a_parameter_the_template_lacks_is_one_line_naming_it(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status = main(["serve", "--port", "0", "--parameter-overrides",
                       "Authentication=authorizer", "Authentification=authorizer"])
        assert status == 2
        error = capsys.readouterr().err
        assert "the template has no parameter Authentification" in error
        assert len(error.strip().splitlines()) == 1


def serve_on_a_taken_port(*overrides: str) -> int:
    """`roomcast serve` on a port already in use: a check that fails says so before binding,
    and one that passes ends at `cannot listen on`."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        return main(["serve", "--port", port, "--parameter-overrides", *overrides])


class TestAllowedValues:
    """Each override is checked against its parameter's constraints, as CloudFormation does."""

    @pytest.mark.parametrize(
        ("override", "line"),
        [
            ("Authentication=maybe",
             "Authentication 'maybe' is not one of its AllowedValues (none, authorizer)"),
            ("LogRetentionDays=13", "LogRetentionDays '13' is not one of its AllowedValues "
             "(1, 3, 5, 7, 14, 30, 60, 90, 180, 365)"),
            ("JwksUrl=http://issuer.example/jwks",
             "JwksUrl 'http://issuer.example/jwks' does not match its AllowedPattern "
             r"^$|^https://\S+$ (empty, or an https:// URL)"),
            # NoEcho: the value is never printed.
            ("JwtSecret=too-short", "JwtSecret **** does not match its AllowedPattern "
             "^$|^.{32,}$ (empty, or at least 32 characters (RFC 7518 3.2))"),
            ("ThrottlingBurstLimit=0", "ThrottlingBurstLimit '0' is less than its MinValue 1"),
            ("ThrottlingBurstLimit=lots",
             "ThrottlingBurstLimit 'lots' is not a number (its Type is Number)"),
            ("DeliveryFailureRateThreshold=100.5",
             "DeliveryFailureRateThreshold '100.5' is more than its MaxValue 100"),
        ],
    )
    def test_a_value_the_parameter_does_not_allow_is_one_line_naming_it_and_the_rule(
        self, override: str, line: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert serve_on_a_taken_port(override) == 2
        assert capsys.readouterr().err == f"roomcast serve: --parameter-overrides: {line}\n"

    def test_values_within_the_rules_pass(self, capsys: pytest.CaptureFixture[str]) -> None:
        allowed = ["LogRetentionDays=30", "DeliveryFailureRateThreshold=0.5",
                   "JwksUrl=https://issuer.example/jwks", "AlarmEmail=ops@example.com",
                   "AlarmEmail="]
        assert serve_on_a_taken_port(*allowed) == 2
        assert "cannot listen on" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("spec", "value", "problem"),
        [
            ({"Type": "String", "MinLength": 3}, "ab", "'ab' is shorter than its MinLength 3"),
            ({"Type": "String", "MaxLength": 3}, "abcd", "'abcd' is longer than its MaxLength 3"),
            ({"Type": "String", "AllowedPattern": "[a-z]+"}, "abc1",
             "'abc1' does not match its AllowedPattern [a-z]+"),  # the whole value must match
            ({"Type": "List<Number>"}, "1,x", "'1,x' is not a number (its Type is List<Number>)"),
            ({"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}, "a,c",
             "'a,c' is not one of its AllowedValues (a, b)"),
        ],
    )
    def test_lengths_patterns_and_lists_follow_cloudformation(
        self, spec: dict[str, object], value: str, problem: str
    ) -> None:
        with pytest.raises(ParameterError) as refused:
            check_parameter("P", spec, value)
        assert str(refused.value) == f"P {problem}"

    def test_a_pattern_python_cannot_read_is_said_not_raised(self) -> None:
        with pytest.raises(ParameterError, match=r"P's AllowedPattern \[a- cannot be read"):
            check_parameter("P", {"Type": "String", "AllowedPattern": "[a-"}, "x")

    def test_a_value_at_the_edges_of_the_rules_passes(self) -> None:
        check_parameter("P", {"Type": "String", "MinLength": 2, "MaxLength": 2}, "ab")
        check_parameter("P", {"Type": "Number", "MinValue": 1, "MaxValue": 5}, "5")
        check_parameter("P", {"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}, "b,a")


class TestTheAuthorizerNeedsKeys:
    def test_without_a_key_source_it_refuses_to_start_in_one_line(
        self, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # It used to start, then answer every handshake 500 with a ConfigurationError.
        assert serve_on_a_taken_port("Authentication=authorizer") == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith("roomcast serve: the $connect authorizer needs a key source in "
                               "the environment: set one of ")
        for setting in SETTINGS:
            if setting.key in KEY_SOURCES:
                assert setting.env in line

    @pytest.mark.parametrize(
        ("variable", "value"),
        [("ROOMCAST_JWT_SECRET", "s" * 32), ("ROOMCAST_JWKS_FILE", "/tmp/jwks.json"),
         ("ROOMCAST_JWKS_URL", "https://issuer.example/jwks")],
    )
    def test_with_one_it_goes_on_to_bind(
        self, variable: str, value: str, environment: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        environment.setenv(variable, value)
        assert serve_on_a_taken_port("Authentication=authorizer") == 2
        assert "cannot listen on" in capsys.readouterr().err

    def test_without_the_authorizer_no_key_is_needed(
        self, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert serve_on_a_taken_port("Authentication=none") == 2
        assert "cannot listen on" in capsys.readouterr().err

    def test_an_authorizer_the_template_does_not_wire_up_is_one_line(
        self, environment: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        template = load_template()
        authorizer = template["Resources"]["ConnectAuthorizer"]["Properties"]
        authorizer["AuthorizerUri"] = "arn:aws:lambda:us-east-1:123456789012:function:elsewhere"
        path = tmp_path / "template.json"  # JSON is YAML: the long forms of !Ref and !Sub
        path.write_text(json.dumps(template), encoding="utf-8")
        status = main(["serve", "--port", "0", "--template", str(path),
                       "--parameter-overrides", "Authentication=authorizer"])
        assert status == 2
        assert capsys.readouterr().err == (
            f"roomcast serve: cannot use the template {path}: the $connect authorizer's "
            "AuthorizerUri names no function\n"
        )


class TestTheFunctionsEnvironment:
    """An override reaches the handlers as the deployed stack's functions would get it."""

    def environment(self, **overrides: str) -> dict[str, str]:
        return parameter_environment(with_parameters(TEMPLATE, overrides), overrides)

    def test_a_parameter_a_function_takes_straight_sets_its_variable(self) -> None:
        assert self.environment(RoomAccess="token", MaxRoomsPerConnection="3") == {
            "ROOMCAST_ROOM_ACCESS": "token", "ROOMCAST_MAX_ROOMS_PER_CONNECTION": "3"}

    def test_parameters_left_at_their_defaults_set_nothing(self) -> None:
        assert self.environment() == {}
        assert self.environment(Authentication="authorizer") == {}

    def test_a_parameter_behind_a_condition_follows_the_condition(self) -> None:
        """With the authorizer the connect function gets no keys, the authorizer does."""
        jwks = "https://issuer.example/jwks.json"
        assert self.environment(JwksUrl=jwks) == {"ROOMCAST_JWKS_URL": jwks}
        assert self.environment(Authentication="authorizer", JwksUrl=jwks) == {
            "ROOMCAST_JWKS_URL": jwks}

    def test_one_variable_from_two_parameters_cannot_be_served(self) -> None:
        template = copy.deepcopy(TEMPLATE)
        variables = template["Resources"]["MessageFunction"]["Properties"]["Environment"]
        variables["Variables"]["ROOMCAST_ROOM_ACCESS"] = {"Ref": "Authentication"}
        overrides = {"RoomAccess": "token", "Authentication": "authorizer"}
        with pytest.raises(TemplateError, match="ROOMCAST_ROOM_ACCESS is set from both"):
            parameter_environment(with_parameters(template, overrides), overrides)


class TestRoomAccessNeedsAuthentication:
    @pytest.mark.parametrize(
        ("arguments", "environ"),
        [(["--parameter-overrides", "RoomAccess=token"], {}),
         ([], {"ROOMCAST_ROOM_ACCESS": "token"})],
        ids=["parameter", "environment"],
    )
    def test_token_without_a_key_source_will_not_start_naming_both_settings(
        self, arguments: list[str], environ: dict[str, str],
        environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    ) -> None:
        for name, value in environ.items():
            environment.setenv(name, value)
        assert main(["serve", "--port", "0", *arguments]) == 2
        error = capsys.readouterr().err
        assert error.startswith("roomcast serve: ROOMCAST_ROOM_ACCESS=token needs authentication")
        assert "ROOMCAST_JWT_SECRET" in error and error.count("\n") == 1
