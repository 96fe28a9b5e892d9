"""Each function of a template runs in execution environments of its own, as on Lambda.

Why a process per execution environment, and not importlib with a per-function module
prefix: Lambda isolates more than module names. Two functions may both be
`handler.handle`, and each may `import utils` of its own: a prefixing finder could rename
those top-level imports, but not what every library keeps process-wide: `os.environ` (each
function has its own variables, and boto3 reads them when a client is made, from any
thread), the working directory (`/var/task`), `sys.path`, logging's root handlers, a
module-level cache of clients or connections, monkeypatches, a `sys.exit()`. Threads of
one process share all of it, so two functions (or two concurrent invocations of one, each
in its own environment on Lambda) would see each other's. A process gives each its own
`sys.modules`, environment, working directory and cold start for free, costs one Python
start-up per environment (about the cost of Lambda's own cold start, paid once: the
environment stays warm between invocations), and an invocation crosses a pipe as JSON, as
Lambda's events and answers cross its runtime API as JSON.

A function gets a new environment when all of its environments are busy (concurrent
invocations from different connections), up to `max_environments`; the first starts when
the gateway does, so that an import failure stops `serve` at once with one line.

roomcast's own handlers are not run this way: they run in the gateway's process, where the
in-process notifier can reach the sockets (`injection.py`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("roomcast.gateway")

WORKER = Path(__file__).resolve().parent / "function_worker.py"
# Lambda gives a function's init 10 s; a laptop's first import of boto3 from a cold disk
# cache can take longer, and nothing here is billed by the second.
INIT_TIMEOUT_SECONDS = 30.0
_print_lock = threading.Lock()


class FunctionFailed(Exception):
    """An invocation failed as Lambda reports it: the function raised, timed out or died."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.function, self.error_type, self.message = function, error_type, message


class InitFailed(FunctionFailed):
    """The function's module could not be imported (its cold start failed)."""

    def __init__(
        self, function: str, error_type: str, message: str, missing: str | None = None
    ) -> None:
        super().__init__(function, error_type, message)
        self.missing = missing


@dataclass(frozen=True)
class FunctionSpec:
    """What one function's environments are started with."""

    logical_id: str
    function_name: str
    handler_name: str
    code_root: Path
    environment: Mapping[str, str]  # the process's whole environment
    timeout_seconds: float
    memory_mb: int
    region: str
    # Where the worker's botocore patch sends calls: the gateway (http://host:port), the
    # DynamoDB endpoint, and whether AWS itself may be reached.
    gateway_origin: str
    dynamodb_endpoint: str | None = None
    allow_aws: bool = False
    requirements: Path | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:123456789012:function:{self.function_name}"


class ExecutionEnvironment:
    """One worker process (`function_worker.py`): one invocation at a time, warm between."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{secrets.token_hex(16)}"
        config = {
            "root": str(spec.code_root),
            "handler": spec.handler_name,
            "functionName": spec.function_name,
            "functionArn": spec.arn,
            "memoryMb": spec.memory_mb,
            "logStream": stream,
            "region": spec.region,
            "gateway": spec.gateway_origin,
            "dynamodb": spec.dynamodb_endpoint,
            "allowAws": spec.allow_aws,
        }
        environment = {**spec.environment, "AWS_LAMBDA_LOG_STREAM_NAME": stream}
        self._process = subprocess.Popen(
            [sys.executable, "-u", str(WORKER), json.dumps(config)],
            cwd=spec.code_root,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read_answers, daemon=True).start()
        self._log = threading.Thread(target=self._copy_log, daemon=True)
        self._log.start()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def wait_ready(self, timeout: float = INIT_TIMEOUT_SECONDS) -> None:
        """Wait for the cold start: the handler imported, or InitFailed."""
        spec = self.spec
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise InitFailed(
                spec.logical_id, "Runtime.InitTimeout", f"init took over {timeout:.0f} s"
            ) from None
        if answer is None:
            code = self._process.wait()
            raise InitFailed(spec.logical_id, "Runtime.ExitError", f"exited with {code} in init")
        if "initError" in answer:
            failure = answer["initError"]
            self._process.wait()
            raise InitFailed(
                spec.logical_id, failure["errorType"], failure["errorMessage"], failure["missing"]
            )

    def invoke(self, event: Any, request_id: str) -> Any:
        spec = self.spec
        deadline_ms = int(time.time() * 1000 + spec.timeout_seconds * 1000)
        request = {"event": event, "requestId": request_id, "deadlineMs": deadline_ms}
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(request, separators=(",", ":")) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._exited() from None
        try:
            answer = self._answers.get(timeout=spec.timeout_seconds)
        except queue.Empty:
            self.stop()
            message = f"Task timed out after {spec.timeout_seconds:.2f} seconds"
            self._print(f"{request_id} {message}")
            raise FunctionFailed(spec.logical_id, "Sandbox.Timedout", message) from None
        if answer is None:
            raise self._exited()
        if "error" in answer:
            error = answer["error"]
            raise FunctionFailed(spec.logical_id, error["errorType"], error["errorMessage"])
        return answer.get("result")

    def _exited(self) -> FunctionFailed:
        code = self._process.wait()
        message = f"the environment exited with {code} during the invocation"
        return FunctionFailed(self.spec.logical_id, "Runtime.ExitError", message)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._log.join(timeout=2)  # its last lines (a traceback) are printed before we go on

    def _read_answers(self) -> None:
        assert self._process.stdout is not None
        try:
            for line in self._process.stdout:
                self._answers.put(json.loads(line))
        except (ValueError, OSError):
            pass
        self._answers.put(None)

    def _copy_log(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._print(line.rstrip("\n"))

    def _print(self, line: str) -> None:
        with _print_lock:
            print(f"[{self.spec.logical_id}] {line}", file=sys.stderr, flush=True)


class IsolatedFunction:
    """A function's handler as the gateway calls it, `(event, context) -> result`, each call
    in an idle environment of its own (the most recently used: the warmest)."""

    def __init__(self, spec: FunctionSpec, max_environments: int = 8) -> None:
        self.spec = spec
        self._max = max(1, max_environments)
        self._idle: list[ExecutionEnvironment] = []
        self._all: set[ExecutionEnvironment] = set()
        self._starting = 0
        self._changed = threading.Condition()
        self._stopped = False

    def start(self) -> ExecutionEnvironment:
        """The first environment, started now (its cold start is checked by `wait_ready`)."""
        environment = ExecutionEnvironment(self.spec)
        with self._changed:
            self._all.add(environment)
            self._idle.append(environment)
        return environment

    def __call__(self, event: Any, context: Any) -> Any:
        request_id = str(getattr(context, "aws_request_id", "") or secrets.token_hex(16))
        environment = self._acquire()
        try:
            return environment.invoke(event, request_id)
        finally:
            self._release(environment)

    def _acquire(self) -> ExecutionEnvironment:
        with self._changed:
            while True:
                if self._stopped:
                    raise FunctionFailed(self.spec.logical_id, "Runtime.Stopped", "serve stops")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) + self._starting < self._max:
                    self._starting += 1
                    break
                self._changed.wait()
        try:
            environment = ExecutionEnvironment(self.spec)  # a cold start, as on Lambda
            environment.wait_ready()
        except BaseException:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._starting -= 1
            self._all.add(environment)
        return environment

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._changed:
            if environment.alive and not self._stopped:
                self._idle.append(environment)
            else:
                self._all.discard(environment)
            self._changed.notify()
        if not environment.alive:
            environment.stop()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            environments = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._changed.notify_all()
        for environment in environments:
            environment.stop()


# -- the environment variables a function sees ---------------------------------------

PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH", "SYSTEMROOT")
# With --allow-aws the developer's own credentials and configuration are the function's.
AWS_SETTINGS_PREFIXES = ("AWS_",)
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "roomcast-local",
    "AWS_SECRET_ACCESS_KEY": "roomcast-local",
    "AWS_SESSION_TOKEN": "roomcast-local",
}


@dataclass(frozen=True)
class LocalSettings:
    """What every function's environment shares on this machine."""

    region: str
    management_url: str  # http://host:port/stage
    dynamodb_endpoint: str | None
    allow_aws: bool
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sqs_endpoint: str | None = None


def lambda_environment(
    *,
    function_name: str,
    handler_name: str,
    code_root: Path,
    memory_mb: int,
    runtime: str | None,
    variables: Mapping[str, str],
    settings: LocalSettings,
) -> dict[str, str]:
    """The function's variables, Lambda's reserved ones, and the local AWS settings.

    As on Lambda, nothing else of the developer's shell is inherited (but PATH, the locale
    and PYTHONPATH), so a function cannot come to depend on a variable it will not have;
    and without --allow-aws no real credentials or AWS configuration reach it."""
    inherited = {k: v for k, v in settings.environ.items() if k in PASSED_THROUGH}
    if settings.allow_aws:
        inherited.update(
            {k: v for k, v in settings.environ.items()
             if k.startswith(AWS_SETTINGS_PREFIXES) or k == "HOME"}
        )
    else:
        inherited.update(DUMMY_CREDENTIALS)
        inherited.update(
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
    reserved = {
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime or 'python'}",
        "LAMBDA_TASK_ROOT": str(code_root),
        "_HANDLER": handler_name,
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        # A management API client made without an endpoint_url reaches the gateway.
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": settings.management_url,
    }
    if settings.dynamodb_endpoint:
        reserved["AWS_ENDPOINT_URL_DYNAMODB"] = settings.dynamodb_endpoint
    if settings.sqs_endpoint:  # the template's queues, created there
        reserved["AWS_ENDPOINT_URL_SQS"] = settings.sqs_endpoint
    return {**inherited, **variables, **reserved}


def runtime_problem(runtime: str | None) -> str | None:
    """Why a function cannot run here (not Python), or None."""
    if runtime is None or runtime.startswith("python"):
        return None
    return f"Runtime {runtime}: roomcast serve runs Python functions only"


def runtime_mismatch(runtime: str | None) -> bool:
    local = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return runtime is not None and runtime.startswith("python") and runtime != local
