"""The Lambda artifacts' pins (infra/lambda-requirements.txt, infra/jwks-layer-requirements.txt)
and, once built, the functions' zip and the JWKS layer's, on paper and run."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
import zipfile
from collections.abc import Iterator
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from roomcast.entrypoints.gateway.template import load_template
from tests.integration.test_authentication import SECRET, token_for
from tests.support import events
from tests.support.identity import rsa_key, write_jwks

ROOT = Path(__file__).resolve().parents[2]
PINS_FILE = ROOT / "infra" / "lambda-requirements.txt"
LAYER_PINS_FILE = ROOT / "infra" / "jwks-layer-requirements.txt"
ARTIFACT = ROOT / "build" / "roomcast-lambda.zip"
LAYER = ROOT / "build" / "roomcast-jwks-layer.zip"
ELF_AARCH64 = 183  # e_machine of an arm64 shared object; the functions run on arm64
# Every function runs the same zip, so the message function's budget is everyone's: 29.2 MB
# once cryptography (14.5 MB, 13.5 MB of it one Rust module) moved to the layer.
MAX_UNPACKED_BYTES = 30_000_000
# cryptography with cffi and pycparser: 16.4 MB, only where a JWKS is verified.
MAX_LAYER_UNPACKED_BYTES = 17_000_000
LAYER_PACKAGES = {"cryptography", "cffi", "_cffi_backend", "pycparser"}
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


def pins(path: Path = PINS_FILE) -> dict[str, Requirement]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in found}


def every_pin() -> dict[str, Requirement]:
    return pins() | pins(LAYER_PINS_FILE)


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
        for requirement in every_pin().values():
            [specifier] = requirement.specifier
            assert specifier.operator == "==", requirement

    def test_the_pins_satisfy_the_projects_runtime_dependencies(self) -> None:
        pinned = every_pin()
        for requirement in runtime_requirements():
            [version] = [s.version for s in pinned[canonicalize_name(requirement.name)].specifier]
            assert requirement.specifier.contains(version), requirement

    @pytest.mark.parametrize("path", [PINS_FILE, LAYER_PINS_FILE], ids=["functions", "layer"])
    def test_each_list_is_closed_under_its_dependencies(self, path: Path) -> None:
        pinned = set(pins(path))
        missing = {name: needed_on_lambda(name) - pinned for name in pinned}
        assert {name: deps for name, deps in missing.items() if deps} == {}

    def test_cryptography_is_the_layers_alone(self) -> None:
        assert set(pins()) & set(pins(LAYER_PINS_FILE)) == set()
        assert "cryptography" in pins(LAYER_PINS_FILE)


@frozen
class Built:
    functions: Path
    layer: Path


def make_package(*overrides: str) -> None:
    subprocess.run(["make", "package", *overrides], cwd=ROOT, check=True, capture_output=True)


@pytest.fixture(scope="module")
def artifact() -> Built:
    """The zips `make package` builds from the sources as they are now (never stale ones)."""
    make_package()
    return Built(ARTIFACT, LAYER)


def names_in(archive: Path) -> set[str]:
    return set(zipfile.ZipFile(archive).namelist())


def top_packages(names: set[str], under: str = "") -> set[str]:
    """Top-level modules and packages, without their .dist-info folders."""
    tops = {n.removeprefix(under).split("/")[0] for n in names if n.startswith(under)}
    return {top.split(".")[0] for top in tops if top and not top.endswith(".dist-info")}


class TestArtifact:
    def test_it_holds_every_handler_and_no_test_or_dev_package(self, artifact: Built) -> None:
        names = names_in(artifact.functions)
        for resource in load_template()["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                module = resource["Properties"]["Handler"].rpartition(".")[0]
                assert module.replace(".", "/") + ".py" in names
        tops = {name.split("/")[0] for name in names}
        assert not tops & {"tests", "pytest", "_pytest", "moto", "cfnlint", "ruff", "mypy"}
        for way_in in ("gateway", "cli"):
            assert not any(name.startswith(f"roomcast/entrypoints/{way_in}/") for name in names)

    def test_it_leaves_cryptography_to_the_layer(self, artifact: Built) -> None:
        assert top_packages(names_in(artifact.functions)) & LAYER_PACKAGES == set()
        assert "jwt" in top_packages(names_in(artifact.functions))

    @pytest.mark.parametrize("which", ["functions", "layer"])
    def test_its_compiled_packages_are_built_for_the_lambda_platform(
        self, artifact: Built, which: str
    ) -> None:
        with zipfile.ZipFile(getattr(artifact, which)) as archive:
            compiled = {n: archive.read(n)[:20] for n in archive.namelist() if n.endswith(".so")}
        expected = "dependency_injector/" if which == "functions" else "python/cryptography/"
        assert any(name.startswith(expected) for name in compiled)
        machines = {name: int.from_bytes(head[18:20], "little") for name, head in compiled.items()}
        assert {name: m for name, m in machines.items() if m != ELF_AARCH64} == {}

    @pytest.mark.parametrize("which", ["functions", "layer"])
    def test_it_ships_no_sources_stubs_tests_or_test_only_modules(
        self, artifact: Built, which: str
    ) -> None:
        names = names_in(getattr(artifact, which))
        assert [n for n in names if n.endswith(NOT_RUNTIME)] == []
        assert [n for n in names if "/tests/" in f"/{n}" or "_testcapi" in n] == []

    def test_it_fits_the_size_budget_with_boto3_and_botocore(self, artifact: Built) -> None:
        infos = zipfile.ZipFile(artifact.functions).infolist()
        tops = {info.filename.split("/")[0] for info in infos}
        assert {"boto3", "botocore"} <= tops
        assert any(info.filename.startswith("dependency_injector/providers.") for info in infos)
        assert sum(info.file_size for info in infos) <= MAX_UNPACKED_BYTES

    @pytest.mark.parametrize("which", ["functions", "layer"])
    def test_every_module_has_bytecode_for_the_runtime_that_never_checks_the_source(
        self, artifact: Built, which: str
    ) -> None:
        tag = lambda_python_tag()
        with zipfile.ZipFile(getattr(artifact, which)) as archive:
            names = set(archive.namelist())
            sources = [n for n in names if n.endswith(".py")]
            compiled = {n: _compiled_name(n, tag) for n in sources}
            assert {s: c for s, c in compiled.items() if c not in names} == {}
            flags = {c: int.from_bytes(archive.read(c)[4:8], "little") for c in compiled.values()}
        assert set(flags.values()) == {UNCHECKED_HASH_PYC}

    def test_botocore_keeps_the_models_of_the_clients_and_credentials_it_uses(
        self, artifact: Built
    ) -> None:
        models = [n for n in names_in(artifact.functions) if n.endswith(".json.gz")]
        services = {n.split("/")[2] for n in models if n.startswith("botocore/data/")}
        services_used = {"dynamodb", "apigatewaymanagementapi", "sts"}
        assert services_used <= services
        assert services <= {*services_used, "sso", "sso-oidc", "signin"}


class TestLayer:
    def test_it_holds_cryptography_and_what_it_needs_under_python(self, artifact: Built) -> None:
        names = names_in(artifact.layer)
        assert {n for n in names if not n.startswith("python/")} == set()
        assert top_packages(names, "python/") == LAYER_PACKAGES

    def test_it_fits_its_size_budget(self, artifact: Built) -> None:
        infos = zipfile.ZipFile(artifact.layer).infolist()
        assert sum(info.file_size for info in infos) <= MAX_LAYER_UNPACKED_BYTES

    def test_it_is_built_for_the_functions_runtime_and_architecture(self) -> None:
        resources = load_template()["Resources"]
        layer = resources["JwksLayer"]["Properties"]
        functions = [r["Properties"] for r in resources.values()
                     if r["Type"] == "AWS::Lambda::Function"]
        assert layer["CompatibleRuntimes"] == sorted({f["Runtime"] for f in functions})
        assert layer["CompatibleArchitectures"] == ["arm64"]
        assert {a for f in functions for a in f["Architectures"]} == {"arm64"}
        assert layer["Content"] == "../" + str(LAYER.relative_to(ROOT))


# -- the zips run: built for this machine, started by the runtime's Python with -S, so that
# they see only what the zips hold (the layer as Lambda unpacks it, under .../python).

HOST = ROOT / "build" / "test-lambda"
HOST_LAYER = ROOT / "build" / "test-jwks-layer"

INVOKE_AND_LIST_MODULES = """
import json, sys
from roomcast.entrypoints.aws_lambda import handlers
answer = getattr(handlers, sys.argv[1])(json.loads(sys.argv[2]), None)
modules = {name: getattr(module, "__file__", None) for name, module in sys.modules.items()}
print(json.dumps([answer, {n: f for n, f in modules.items() if "." not in n}]))
"""


@frozen
class Run:
    answer: dict[str, Any]
    modules: dict[str, str | None]  # top-level modules loaded, each with its file
    log: str


@pytest.fixture(scope="module")
def on_this_machine() -> Iterator[str]:
    """`make package` for this machine's platform; yields the runtime's Python."""
    make_package(
        "LAMBDA_PLATFORM=manylinux2014_x86_64", f"LAMBDA_DIR={HOST.relative_to(ROOT)}",
        "LAMBDA_ZIP=build/test-lambda.zip", f"LAMBDA_LAYER_DIR={HOST_LAYER.relative_to(ROOT)}",
        "LAMBDA_LAYER_ZIP=build/test-jwks-layer.zip",
    )
    python = subprocess.run(
        ["make", "-s", "--no-print-directory", "print-lambda-python"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    yield python


def invoke(
    python: str, handler: str, event: dict[str, Any], environ: dict[str, str], layer: bool
) -> Run:
    path = [str(HOST), *([str(HOST_LAYER / "python")] if layer else [])]
    prelude = f"import sys; sys.path[:0] = {path!r}\n"
    result = subprocess.run(
        [python, "-S", "-c", prelude + INVOKE_AND_LIST_MODULES, handler, json.dumps(event)],
        cwd=HOST, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ROOMCAST_STORE": "memory",
             "PYTHONDONTWRITEBYTECODE": "1", **environ},
    )
    assert result.returncode == 0, result.stderr
    # The handler's metrics (EMF) go to stdout before the line printed here.
    answer, modules = json.loads(result.stdout.splitlines()[-1])
    return Run(answer, modules, result.stderr)


def connect_event(query: dict[str, str]) -> dict[str, Any]:
    return events.connect_event(events.new_connection_id(), query)


class TestWhatEachFunctionImports:
    def test_an_hs256_connect_imports_pyjwt_but_never_cryptography(
        self, on_this_machine: str
    ) -> None:
        run = invoke(on_this_machine, "connect", connect_event({"token": token_for("alice")}),
                     {"ROOMCAST_JWT_SECRET": SECRET}, layer=False)
        assert run.answer["statusCode"] == 200
        assert "jwt" in run.modules
        assert not LAYER_PACKAGES & set(run.modules)

    def test_an_hs256_authorizer_allows_without_cryptography(self, on_this_machine: str) -> None:
        event = events.authorizer_event(events.new_connection_id(), {"token": token_for("al")})
        run = invoke(on_this_machine, "authorize", event, {"ROOMCAST_JWT_SECRET": SECRET},
                     layer=False)
        assert run.answer["principalId"] == "al"
        assert not LAYER_PACKAGES & set(run.modules)

    @pytest.mark.parametrize("handler", ["connect", "authorize"])
    def test_a_jwks_is_verified_with_the_layers_cryptography(
        self, on_this_machine: str, tmp_path: Path, handler: str
    ) -> None:
        key = rsa_key()
        query = {"token": key.sign({"sub": "alice"})}
        event = (connect_event(query) if handler == "connect"
                 else events.authorizer_event(events.new_connection_id(), query))
        jwks = {"ROOMCAST_JWKS_FILE": str(write_jwks(tmp_path / "jwks.json", key))}
        run = invoke(on_this_machine, handler, event, jwks, layer=True)
        if handler == "connect":
            assert run.answer["statusCode"] == 200
        else:
            assert run.answer["principalId"] == "alice"
        assert str(run.modules["cryptography"]).startswith(str(HOST_LAYER / "python"))

    def test_a_jwks_without_the_layer_is_a_misconfiguration_that_names_it(
        self, on_this_machine: str, tmp_path: Path
    ) -> None:
        key = rsa_key()
        jwks = {"ROOMCAST_JWKS_FILE": str(write_jwks(tmp_path / "jwks.json", key))}
        run = invoke(on_this_machine, "connect", connect_event({"token": key.sign({"sub": "a"})}),
                     jwks, layer=False)
        assert (run.answer["statusCode"], run.answer["body"]) == (500, "Server misconfigured")
        assert "JwksLayer" in run.log


def _compiled_name(source: str, tag: str) -> str:
    folder, _, module = source.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    return f"{prefix}__pycache__/{module.removesuffix('.py')}.{tag}.pyc"
