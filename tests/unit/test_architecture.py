"""The dependency rule, checked by reading imports: the core never reaches outward."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"boto3", "botocore", "aiobotocore", "dependency_injector", "adapters", "entrypoints"}
CORE = sorted((ROOT / "domain").glob("*.py")) + sorted((ROOT / "ports").glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_core_imports_no_sdk_container_or_outer_layer(path):
    roots = {name.split(".")[0] for name in imported_modules(path)}
    assert not roots & FORBIDDEN, f"{path} imports {sorted(roots & FORBIDDEN)}"


@pytest.mark.parametrize("path", sorted((ROOT / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_only_the_standard_library_attrs_and_itself(path):
    allowed = {"attrs", "domain", "ports", "__future__"}
    third_party = {
        root
        for root in (name.split(".")[0] for name in imported_modules(path))
        if root not in sys.stdlib_module_names and root not in allowed
    }
    assert not third_party, f"{path} imports {sorted(third_party)}"


def test_importing_the_domain_loads_no_port_adapter_or_sdk():
    probe = (
        "import sys, domain.service, domain.commands;"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'ports', 'adapters', 'entrypoints', 'boto3', 'botocore', 'dependency_injector'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


OUTER = {
    "adapters": {"entrypoints"},
    "roomcast_client": {"domain", "ports", "adapters", "entrypoints"},
}


@pytest.mark.parametrize(
    "path",
    [p for package in OUTER for p in sorted((ROOT / package).rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_nothing_imports_the_entrypoints_and_the_client_stands_alone(path):
    forbidden = OUTER[path.relative_to(ROOT).parts[0]]
    roots = {name.split(".")[0] for name in imported_modules(path)}
    assert not roots & forbidden, f"{path} imports {sorted(roots & forbidden)}"


@pytest.mark.parametrize(
    "path",
    [p for package in ("domain", "ports", "adapters", "entrypoints", "roomcast_client")
     for p in sorted((ROOT / package).rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_relative_imports_hide_from_these_checks(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [], f"{path}: relative imports at lines {relative}"


def test_the_rule_checker_sees_a_forbidden_import(tmp_path):
    offender = tmp_path / "offender.py"
    offender.write_text("import boto3\nfrom adapters.memory_store import X\n")
    assert {"boto3", "adapters.memory_store"} <= imported_modules(offender)


def test_unit_tests_import_no_boto3():
    for path in (ROOT / "tests" / "unit").glob("*.py"):
        roots = {name.split(".")[0] for name in imported_modules(path)}
        assert not roots & {"boto3", "botocore", "aiobotocore", "moto"}, path
