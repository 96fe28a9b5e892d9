"""`roomcast --version`: the installed distribution's version, from its metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from roomcast.entrypoints.cli.main import main
from tests.support.moto_server import REPOSITORY


class TestVersion:
    def test_it_prints_the_installed_version_and_exits_0(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as done:
            main(["--version"])
        assert done.value.code == 0
        assert capsys.readouterr().out == f"roomcast {version('roomcast')}\n"

    def test_as_a_user_runs_it(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "roomcast.entrypoints.cli", "--version"], cwd=REPOSITORY,
            capture_output=True, text=True, timeout=60,
        )
        assert (result.returncode, result.stdout, result.stderr) == (
            0, f"roomcast {version('roomcast')}\n", "")

    def test_without_distribution_metadata_it_says_so(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from importlib import metadata

        def missing(name: str) -> str:
            raise metadata.PackageNotFoundError(name)

        monkeypatch.setattr(metadata, "version", missing)
        with pytest.raises(SystemExit):
            main(["--version"])
        assert capsys.readouterr().out == "roomcast (not installed: no distribution metadata)\n"
