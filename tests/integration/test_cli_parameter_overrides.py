"""`roomcast serve --parameter-overrides`: KEY=VALUE pairs the template must declare, reaching
the handlers' environment as the deployed functions' would."""

from __future__ import annotations

import copy

import pytest

from roomcast.entrypoints.cli.main import main
from roomcast.entrypoints.gateway.template import (
    TemplateError,
    load_template,
    parameter_environment,
    with_parameters,
)

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
