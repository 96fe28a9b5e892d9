"""`roomcast serve --parameter-overrides`: KEY=VALUE pairs the template must declare."""

from __future__ import annotations

import pytest

from roomcast.entrypoints.cli.main import main


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
