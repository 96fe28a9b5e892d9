"""The template's functions at run time: where each one's handler runs, and starting them.

A function whose code is here (a `CodeUri`/`Code` folder or zip, or inline code) runs as
Lambda runs it, isolated in execution environments of its own (`isolation.py`). One whose
code is not here (roomcast's own template names its artifact, `build/roomcast-lambda.zip`,
which may not be built yet), or whose `Handler` is one of roomcast's own, is imported into
the gateway's process from the working directory: roomcast's handlers keep the in-process
notifier that way.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roomcast.entrypoints.gateway.intrinsics import Resolver
from roomcast.entrypoints.gateway.isolation import (
    FunctionSpec,
    InitFailed,
    IsolatedFunction,
    LocalSettings,
    lambda_environment,
    runtime_mismatch,
    runtime_problem,
)
from roomcast.entrypoints.gateway.routing import Handler, import_handler
from roomcast.entrypoints.gateway.template import (
    FunctionDefinition,
    TemplateError,
    function_definition,
)

log = logging.getLogger("roomcast.gateway")

ROOMCAST_HANDLERS = "roomcast."
INLINE_MODULE = "index.py"  # Lambda's file name for a Python function's ZipFile code


def runs_isolated(definition: FunctionDefinition) -> bool:
    if definition.handler_name.startswith(ROOMCAST_HANDLERS):
        return False
    return definition.code.kind in ("folder", "zip", "inline")


@dataclass
class TemplateFunctions:
    """The handlers the routes and the authorizer call, by function logical id."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    isolated: dict[str, IsolatedFunction] = field(default_factory=dict)
    definitions: dict[str, FunctionDefinition] = field(default_factory=dict)
    pending: list[FunctionDefinition] = field(default_factory=list)  # to run isolated
    _scratch: list[Path] = field(default_factory=list)

    def handler_for(self, function: str, handler_name: str) -> Handler:
        return self.handlers[function]

    @property
    def any_in_process(self) -> bool:
        return len(self.handlers) > len(self.isolated) or not self.definitions

    def isolate(self, resolver: Resolver, settings: LocalSettings, max_environments: int) -> None:
        """Define each pending function's environments (its variables resolved here)."""
        for definition in self.pending:
            spec = _spec(definition, resolver, settings, self)
            isolated = IsolatedFunction(spec, max_environments)
            self.isolated[definition.logical_id] = isolated
            self.handlers[definition.logical_id] = isolated
        self.pending = []

    def describe(self) -> list[str]:
        """One line per isolated function for the banner: its code and its handler."""
        lines = []
        for logical_id, function in self.isolated.items():
            definition = self.definitions[logical_id]
            where = _shown(function.spec.code_root, definition)
            lines.append(f"{logical_id} ({where}, {definition.handler_name})")
        return lines

    def stop(self) -> None:
        for function in self.isolated.values():
            function.stop()
        for folder in self._scratch:
            shutil.rmtree(folder, ignore_errors=True)


def _shown(root: Path, definition: FunctionDefinition) -> str:
    if definition.code.kind == "inline":
        return "inline code"
    if definition.code.kind == "zip" and definition.code.path is not None:
        return _relative(definition.code.path)
    return _relative(root) + "/"


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def prepare(
    template: Mapping[str, Any], function_ids: Iterable[str], template_dir: Path
) -> TemplateFunctions:
    """Import the in-process handlers now; the isolated functions wait for `isolate`, which
    needs the gateway's port (their environment names it)."""
    prepared = TemplateFunctions()
    for logical_id in dict.fromkeys(function_ids):
        definition = function_definition(template, logical_id, template_dir)
        prepared.definitions[logical_id] = definition
        if not runs_isolated(definition):
            prepared.handlers[logical_id] = import_handler(definition.handler_name)
            continue
        problem = runtime_problem(definition.runtime)
        if problem:
            raise TemplateError(f"{logical_id} {problem}")
        prepared.pending.append(definition)
    return prepared


def _spec(
    definition: FunctionDefinition,
    resolver: Resolver,
    settings: LocalSettings,
    prepared: TemplateFunctions,
) -> FunctionSpec:
    logical_id = definition.logical_id
    variables = {
        name: resolver.text(value, f"{logical_id} Environment.Variables.{name}")
        for name, value in definition.environment.items()
    }
    function_name = resolver.physical_name(logical_id)
    root = _code_root(definition, prepared)
    environment = lambda_environment(
        function_name=function_name,
        handler_name=definition.handler_name,
        code_root=root,
        memory_mb=definition.memory_mb,
        runtime=definition.runtime,
        variables=variables,
        settings=settings,
    )
    requirements = root / "requirements.txt"
    return FunctionSpec(
        logical_id=logical_id,
        function_name=function_name,
        handler_name=definition.handler_name,
        code_root=root,
        environment=environment,
        timeout_seconds=definition.timeout_seconds,
        memory_mb=definition.memory_mb,
        region=settings.region,
        gateway_origin=settings.management_url.rsplit("/", 1)[0],
        dynamodb_endpoint=settings.dynamodb_endpoint,
        allow_aws=settings.allow_aws,
        requirements=requirements if requirements.is_file() else None,
    )


def _code_root(definition: FunctionDefinition, prepared: TemplateFunctions) -> Path:
    """The folder the function runs from: its CodeUri, or a zip's or inline code's copy."""
    code = definition.code
    if code.kind == "folder":
        assert code.path is not None
        return code.path
    scratch = Path(tempfile.mkdtemp(prefix=f"roomcast-{definition.logical_id}-"))
    prepared._scratch.append(scratch)
    if code.kind == "zip":
        assert code.path is not None
        with zipfile.ZipFile(code.path) as archive:
            archive.extractall(scratch)
    else:
        (scratch / INLINE_MODULE).write_text(code.inline or "", encoding="utf-8")
    return scratch


def start(prepared: TemplateFunctions) -> None:
    """Every isolated function's first environment, started at once and waited for; the
    first import failure is raised as a TemplateError in one line."""
    environments = [function.start() for function in prepared.isolated.values()]
    if not environments:
        return
    with ThreadPoolExecutor(max_workers=len(environments)) as pool:
        failures = list(pool.map(_cold_start, environments))
    for failure in failures:
        if failure is not None:
            raise TemplateError(_init_problem(failure, prepared))


def _cold_start(environment: Any) -> InitFailed | None:
    try:
        environment.wait_ready()
    except InitFailed as failure:
        return failure
    return None


def _init_problem(failure: InitFailed, prepared: TemplateFunctions) -> str:
    function = prepared.isolated[failure.function]
    spec = function.spec
    definition = prepared.definitions[failure.function]
    where = _shown(spec.code_root, definition)
    text = f"function {failure.function} ({where}) cannot start: {failure.message}"
    if failure.missing and spec.requirements is not None:
        text += f" (its requirements: pip install -r {_relative(spec.requirements)})"
    elif failure.missing:
        text += f" (not installed for {sys.executable})"
    return text


def runtime_warning(prepared: TemplateFunctions) -> str | None:
    """One line naming the functions whose Runtime is not this Python, or None."""
    local = f"python{sys.version_info.major}.{sys.version_info.minor}"
    differing: dict[str, list[str]] = {}
    for logical_id in prepared.isolated:
        runtime = prepared.definitions[logical_id].runtime
        if runtime is not None and runtime_mismatch(runtime):
            differing.setdefault(runtime, []).append(logical_id)
    if not differing:
        return None
    named = "; ".join(f"{', '.join(ids)} declare {runtime}" for runtime, ids in differing.items())
    return f"warning: {named}: they run on this {local}"
