"""A function's execution environments (`isolation.py`): real worker processes, as
`roomcast serve --template` starts them, without a gateway."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from roomcast.entrypoints.gateway.isolation import (
    FunctionFailed,
    FunctionSpec,
    InitFailed,
    IsolatedFunction,
    LocalSettings,
    lambda_environment,
)

HANDLER = """
import os
import time

import helper

count = 0


def handle(event, context):
    global count
    count += 1
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("raise"):
        raise ValueError("asked to")
    return {"count": count, "helper": helper.NAME, "pid": os.getpid(),
            "only": os.environ.get("ONLY"), "home": os.environ.get("HOME")}
"""


def function(tmp_path: Path, name: str, timeout: float = 5, **variables: str) -> IsolatedFunction:
    root = tmp_path / name
    root.mkdir()
    (root / "app.py").write_text(HANDLER, encoding="utf-8")
    (root / "helper.py").write_text(f"NAME = {name!r}\n", encoding="utf-8")
    settings = LocalSettings(
        region="us-east-1", management_url="http://127.0.0.1:1/dev", dynamodb_endpoint=None,
        allow_aws=False, environ={"PATH": "/usr/bin:/bin", "HOME": "/home/someone"},
    )
    environment = lambda_environment(
        function_name=name, handler_name="app.handle", code_root=root, memory_mb=128,
        runtime="python3.12", variables=variables, settings=settings,
    )
    spec = FunctionSpec(
        logical_id=name, function_name=name, handler_name="app.handle", code_root=root,
        environment=environment, timeout_seconds=timeout, memory_mb=128, region="us-east-1",
        gateway_origin="http://127.0.0.1:1",
    )
    isolated = IsolatedFunction(spec, max_environments=2)
    isolated.start().wait_ready()
    return isolated


class Context:
    aws_request_id = "r-1"


def test_two_functions_keep_their_own_modules_and_variables(tmp_path):
    one, two = function(tmp_path, "one", ONLY="one's"), function(tmp_path, "two")
    try:
        assert one({}, Context())["helper"] == "one"
        answer = two({}, Context())
        assert answer["helper"] == "two" and answer["only"] is None
        assert answer["home"] is None  # nothing of the developer's shell but PATH and locale
    finally:
        one.stop()
        two.stop()


def test_warm_between_invocations_and_a_new_environment_when_busy(tmp_path):
    isolated = function(tmp_path, "busy")
    try:
        first, second = isolated({}, Context()), isolated({}, Context())
        assert (first["count"], second["count"]) == (1, 2)
        assert first["pid"] == second["pid"]
        answers: list[dict[str, object]] = []
        slow = threading.Thread(target=lambda: answers.append(isolated({"sleep": 1}, Context())))
        slow.start()
        concurrent = isolated({}, Context())  # the warm one is busy: a cold start
        slow.join()
        assert concurrent["count"] == 1 and concurrent["pid"] != first["pid"]
    finally:
        isolated.stop()


def test_a_raise_and_a_timeout_are_lambdas_errors_and_a_timeout_replaces_the_environment(
    tmp_path,
):
    isolated = function(tmp_path, "failing", timeout=0.5)
    try:
        with pytest.raises(FunctionFailed) as raised:
            isolated({"raise": True}, Context())
        assert (raised.value.error_type, raised.value.message) == ("ValueError", "asked to")
        before = isolated({}, Context())["pid"]
        with pytest.raises(FunctionFailed) as timed_out:
            isolated({"sleep": 3}, Context())
        assert timed_out.value.error_type == "Sandbox.Timedout"
        assert "Task timed out after 0.50 seconds" in timed_out.value.message
        after = isolated({}, Context())
        assert after["pid"] != before and after["count"] == 1
    finally:
        isolated.stop()


def test_an_import_failure_is_init_failed_naming_the_missing_module(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "app.py").write_text("import not_here_at_all\n", encoding="utf-8")
    spec = FunctionSpec(
        logical_id="broken", function_name="broken", handler_name="app.handle", code_root=root,
        environment={"PATH": "/usr/bin:/bin"}, timeout_seconds=3, memory_mb=128,
        region="us-east-1", gateway_origin="http://127.0.0.1:1",
    )
    environment = IsolatedFunction(spec).start()
    with pytest.raises(InitFailed) as failed:
        environment.wait_ready()
    assert failed.value.error_type == "Runtime.ImportModuleError"
    assert failed.value.missing == "not_here_at_all"
    assert "Unable to import module 'app'" in failed.value.message
