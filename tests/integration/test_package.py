"""The Lambda artifact's pins (infra/lambda-requirements.txt) and, once built, the zip itself."""

from __future__ import annotations

import subprocess
import tomllib
import zipfile
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from entrypoints.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PINS_FILE = ROOT / "infra" / "lambda-requirements.txt"
ARTIFACT = ROOT / "build" / "roomcast-lambda.zip"
ELF_AARCH64 = 183  # e_machine of an arm64 shared object; the functions run on arm64
LAMBDA = {
    "python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
    "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
    "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
}


def pins() -> dict[str, Requirement]:
    lines = PINS_FILE.read_text(encoding="utf-8").splitlines()
    found = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in found}


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def needed_on_lambda(name: str) -> set[str]:
    requires = [Requirement(text) for text in distribution(name).requires or []]
    return {
        canonicalize_name(r.name)
        for r in requires
        if r.marker is None or r.marker.evaluate(LAMBDA)
    }


class TestPins:
    def test_every_pin_is_exact(self) -> None:
        for requirement in pins().values():
            [specifier] = requirement.specifier
            assert specifier.operator == "==", requirement

    def test_the_pins_satisfy_the_projects_runtime_dependencies(self) -> None:
        pinned = pins()
        for requirement in runtime_requirements():
            [version] = [s.version for s in pinned[canonicalize_name(requirement.name)].specifier]
            assert requirement.specifier.contains(version), requirement

    def test_the_pins_are_closed_under_their_dependencies(self) -> None:
        pinned = set(pins())
        missing = {name: needed_on_lambda(name) - pinned for name in pinned}
        assert {name: deps for name, deps in missing.items() if deps} == {}


@pytest.fixture(scope="module")
def artifact() -> Path:
    """The zip `make package` builds (built here when missing: it fetches pinned wheels)."""
    if not ARTIFACT.exists():
        subprocess.run(["make", "package"], cwd=ROOT, check=True, capture_output=True)
    return ARTIFACT


class TestArtifact:
    def test_it_holds_every_handler_and_no_test_or_dev_package(self, artifact: Path) -> None:
        names = set(zipfile.ZipFile(artifact).namelist())
        for resource in load_template()["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                module = resource["Properties"]["Handler"].rpartition(".")[0]
                assert module.replace(".", "/") + ".py" in names
        tops = {name.split("/")[0] for name in names}
        assert not tops & {"tests", "pytest", "_pytest", "moto", "cfnlint", "ruff", "mypy"}
        assert not any(name.startswith("entrypoints/gateway/") for name in names)

    def test_its_compiled_packages_are_built_for_the_lambda_platform(self, artifact: Path) -> None:
        with zipfile.ZipFile(artifact) as archive:
            compiled = {n: archive.read(n)[:20] for n in archive.namelist() if n.endswith(".so")}
        assert any(name.startswith("dependency_injector/") for name in compiled)
        machines = {name: int.from_bytes(head[18:20], "little") for name, head in compiled.items()}
        assert {name: m for name, m in machines.items() if m != ELF_AARCH64} == {}
