"""The dependency rule, checked by reading imports: the core never reaches outward, the Lambda
way in carries no other way in, and no two modules import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "ports", "adapters", "entrypoints")
SDKS = {"boto3", "botocore", "aiobotocore", "dependency_injector"}
# What each layer may not import, by layer name (`roomcast.<layer>`) or top-level package.
FORBIDDEN = {
    "domain": SDKS | {"adapters", "entrypoints"},
    "ports": SDKS | {"adapters", "entrypoints"},
    "adapters": {"entrypoints"},
}
# The other ways in: the Lambda artifact leaves these folders out, so Lambda code never
# imports them.
NOT_LAMBDA = ("roomcast.entrypoints.cli", "roomcast.entrypoints.gateway")


def module_name(path: Path) -> str:
    """`domain/model.py` -> `roomcast.domain.model`; `tests/x.py` -> `tests.x`."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    prefix = ("roomcast",) if parts[0] in LAYERS else ()
    return ".".join(prefix + parts)


def sources(*packages: str) -> list[Path]:
    return [path for package in packages for path in sorted((ROOT / package).rglob("*.py"))]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layers_and_packages(names: set[str]) -> set[str]:
    """`roomcast.adapters.x` counts as `adapters`; anything else by its top-level package."""
    found = set()
    for name in names:
        parts = name.split(".")
        found.add(parts[1] if parts[0] == "roomcast" and len(parts) > 1 else parts[0])
    return found


def layer_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


@pytest.mark.parametrize(
    "path", sources("domain", "ports", "adapters"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_each_layer_imports_nothing_outward(path):
    reached = layers_and_packages(imported_modules(path)) & FORBIDDEN[layer_of(path)]
    assert not reached, f"{path} imports {sorted(reached)}"


@pytest.mark.parametrize("path", sources("domain"), ids=lambda p: p.name)
def test_the_domain_imports_only_the_standard_library_attrs_and_itself(path):
    allowed = {"attrs", "roomcast", "__future__"}
    third_party = {
        root
        for root in (name.split(".")[0] for name in imported_modules(path))
        if root not in sys.stdlib_module_names and root not in allowed
    }
    assert not third_party, f"{path} imports {sorted(third_party)}"


def test_importing_the_domain_loads_no_port_adapter_or_sdk():
    probe = (
        "import sys, roomcast.domain.service, roomcast.domain.commands;"
        "print(sorted({m for m in sys.modules}"
        " & {'roomcast.ports', 'roomcast.adapters', 'roomcast.entrypoints', 'boto3', 'botocore',"
        " 'dependency_injector'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "path", sources(*LAYERS, "roomcast_client", "tests", "benchmarks"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_import_names_the_roomcast_package(path):
    """`import domain` would load a second copy of a module next to `roomcast.domain`'s."""
    bare = {name for name in imported_modules(path) if name.split(".")[0] in LAYERS}
    assert not bare, f"{path} imports {sorted(bare)} without the roomcast. prefix"


@pytest.mark.parametrize(
    "path", sources("roomcast_client"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_client_stands_alone(path):
    roots = {name.split(".")[0] for name in imported_modules(path)}
    assert "roomcast" not in roots, f"{path} imports roomcast"


def lambda_sources() -> list[Path]:
    return [
        path for path in sources("entrypoints")
        if not module_name(path).startswith(NOT_LAMBDA)
    ]


@pytest.mark.parametrize("path", lambda_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_lambda_way_in_never_imports_the_cli_or_the_gateway(path):
    reached = {name for name in imported_modules(path) if name.startswith(NOT_LAMBDA)}
    assert not reached, f"{path} imports {sorted(reached)}"


def import_graph() -> dict[str, set[str]]:
    paths = sources(*LAYERS)
    modules = {module_name(path): path for path in paths}
    return {
        name: {imported for imported in imported_modules(path) if imported in modules} - {name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_import_each_other():
    # A package's __init__ importing its own modules is no cycle worth reporting.
    graph = {
        name: {target for target in targets if not name.startswith(target + ".")}
        for name, targets in import_graph().items()
    }
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    "path", sources(*LAYERS, "roomcast_client"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_relative_imports_hide_from_these_checks(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [], f"{path}: relative imports at lines {relative}"


def test_the_rule_checker_sees_a_forbidden_import(tmp_path):
    offender = tmp_path / "offender.py"
    offender.write_text("import boto3\nfrom roomcast.adapters.memory_store import X\n")
    names = imported_modules(offender)
    assert {"boto3", "roomcast.adapters.memory_store"} <= names
    assert {"boto3", "adapters"} <= layers_and_packages(names)


def test_unit_tests_import_no_boto3():
    for path in (ROOT / "tests" / "unit").glob("*.py"):
        roots = {name.split(".")[0] for name in imported_modules(path)}
        assert not roots & {"boto3", "botocore", "aiobotocore", "moto"}, path
