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

from roomcast.entrypoints.gateway.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PINS_FILE = ROOT / "infra" / "lambda-requirements.txt"
ARTIFACT = ROOT / "build" / "roomcast-lambda.zip"
ELF_AARCH64 = 183  # e_machine of an arm64 shared object; the functions run on arm64
# cryptography (RS256/ES256 tokens from a JWKS) is 14.5 MB of it, its Rust module 13.5 MB.
MAX_UNPACKED_BYTES = 50_000_000
UNCHECKED_HASH_PYC = 0b01  # PEP 552 flags: hash-based, source never checked
NOT_RUNTIME = (".c", ".h", ".cpp", ".pyx", ".pxd", ".pxi", ".pyi")
LAMBDA = {
    "python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
    "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
    "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
}


def lambda_python_tag() -> str:
    """The bytecode tag of the functions' one runtime, e.g. `cpython-312` for python3.12."""
    functions = [
        r["Properties"] for r in load_template()["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    [runtime] = {f["Runtime"] for f in functions}
    return "cpython-" + str(runtime).removeprefix("python").replace(".", "")


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
    """The zip `make package` builds from the sources as they are now (never a stale one)."""
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
        for way_in in ("gateway", "cli"):
            assert not any(name.startswith(f"roomcast/entrypoints/{way_in}/") for name in names)

    def test_its_compiled_packages_are_built_for_the_lambda_platform(self, artifact: Path) -> None:
        with zipfile.ZipFile(artifact) as archive:
            compiled = {n: archive.read(n)[:20] for n in archive.namelist() if n.endswith(".so")}
        assert any(name.startswith("dependency_injector/") for name in compiled)
        machines = {name: int.from_bytes(head[18:20], "little") for name, head in compiled.items()}
        assert {name: m for name, m in machines.items() if m != ELF_AARCH64} == {}

    def test_it_ships_no_sources_stubs_tests_or_test_only_modules(self, artifact: Path) -> None:
        names = zipfile.ZipFile(artifact).namelist()
        assert [n for n in names if n.endswith(NOT_RUNTIME)] == []
        assert [n for n in names if "/tests/" in f"/{n}" or "_testcapi" in n] == []
        assert any(n.startswith("dependency_injector/providers.") for n in names)

    def test_it_fits_the_size_budget_with_boto3_and_botocore(self, artifact: Path) -> None:
        infos = zipfile.ZipFile(artifact).infolist()
        tops = {info.filename.split("/")[0] for info in infos}
        assert {"boto3", "botocore"} <= tops
        assert sum(info.file_size for info in infos) <= MAX_UNPACKED_BYTES

    def test_every_module_has_bytecode_for_the_runtime_that_never_checks_the_source(
        self, artifact: Path
    ) -> None:
        tag = lambda_python_tag()
        with zipfile.ZipFile(artifact) as archive:
            names = set(archive.namelist())
            sources = [n for n in names if n.endswith(".py")]
            compiled = {n: _compiled_name(n, tag) for n in sources}
            assert {s: c for s, c in compiled.items() if c not in names} == {}
            flags = {c: int.from_bytes(archive.read(c)[4:8], "little") for c in compiled.values()}
        assert set(flags.values()) == {UNCHECKED_HASH_PYC}

    def test_botocore_keeps_the_models_of_the_clients_and_credentials_it_uses(
        self, artifact: Path
    ) -> None:
        models = [n for n in zipfile.ZipFile(artifact).namelist() if n.endswith(".json.gz")]
        services = {n.split("/")[2] for n in models if n.startswith("botocore/data/")}
        services_used = {"dynamodb", "apigatewaymanagementapi", "sts"}
        assert services_used <= services
        assert services <= {*services_used, "sso", "sso-oidc", "signin"}


def _compiled_name(source: str, tag: str) -> str:
    folder, _, module = source.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    return f"{prefix}__pycache__/{module.removesuffix('.py')}.{tag}.pyc"
