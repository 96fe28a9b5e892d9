"""Cold start of the `message` handler serving its first sendMessage (a Query on a moto_server,
then the fan-out to a 10-member room through the stand-in at 10 ms per POST), against the
SDK floor: `import boto3` plus a DynamoDB and an apigatewaymanagementapi client. Both run in
fresh interpreters that see only the artifact's packages, in two set-ups:

- pins: infra/lambda-requirements.txt installed for this machine into build/bench-artifact,
  run by this Python with -S (the first run writes its __pycache__, as a virtualenv would);
- artifact: `make package` built for this machine's platform into build/bench-lambda, run by
  the Lambda runtime's Python from a read-only copy with nothing written
  (PYTHONDONTWRITEBYTECODE), checked with -v to load every module from the shipped bytecode.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from attrs import asdict

from benchmarks.standin import StandIn
from benchmarks.timing import Ratio, compare

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
PINS = ROOT / "build" / "bench-artifact"
ARTIFACT = ROOT / "build" / "bench-lambda"
REQUIREMENTS = ROOT / "infra" / "lambda-requirements.txt"
ROOM_MEMBERS = 10
SOURCE_COMPILED = re.compile(r"^# code object from (/\S+\.py)$", re.MULTILINE)

FLOOR_NAME = "import boto3 + 2 clients"
FLOOR = (
    "import boto3\n"
    "boto3.client('dynamodb')\n"
    "boto3.client('apigatewaymanagementapi', endpoint_url='https://abc.execute-api.us-east-1"
    ".amazonaws.com/dev')\n"
)


# Lambda freezes or ends the process without the interpreter's teardown at exit, which costs
# the floor (boto3's modules, two service models) more than the handler: both end this way too.
NO_EXIT = "__import__('os')._exit(0)\n"


def serving(event: dict[str, Any]) -> str:
    """One statement: the handler answers the event, 200 or the run fails."""
    return (
        f"assert handlers.message(__import__('json').loads({json.dumps(event)!r}), None)"
        "['statusCode'] == 200"
    )


def handler_serving(event: dict[str, Any]) -> str:
    return f"from roomcast.entrypoints.aws_lambda import handlers\n{serving(event)}\n"


# Where each cold start's time goes, marked inside the interpreter (so without its start-up
# and its teardown at exit, which the compared wall times include).
MARKS = (
    "import time\n"
    "marks = [time.perf_counter()]\n"
    "STEPS"
    "print(*(round((b - a) * 1e3, 1) for a, b in zip(marks, marks[1:])))\n"
)
SUBJECT_PHASES = {
    "import the handlers (attrs, dependency-injector and its asyncio, domain)":
        "from roomcast.entrypoints.aws_lambda import handlers",
    "container: import botocore, one session, the DynamoDB client":
        "handlers.get_container().store()",
    "serve: Query + fan-out to 10 over urllib3 (10 ms per POST)": "SERVE",
}
FLOOR_PHASES = {
    "import boto3": "import boto3",
    "a DynamoDB client": "boto3.client('dynamodb')",
    "an apigatewaymanagementapi client": FLOOR.splitlines()[-1],
}


def cold_start() -> list[Ratio]:
    moto = _start_moto()
    standin = StandIn(0.01, 1, BUILD / "standin-cold.log")
    try:
        environment = _lambda_environment(moto.url, standin.endpoint)
        event = _fill_room(environment)
        subject = handler_serving(event)
        lambda_python = _lambda_python()  # before building: say plainly when it is missing
        pins, artifact = _pins(), _artifact()
        in_pins = _interpreter([sys.executable, "-S"], pins, [str(pins), str(ROOT)], environment)
        artifact_run = [lambda_python, "-S"], artifact, [str(artifact)]
        read_only = environment | {"PYTHONDONTWRITEBYTECODE": "1"}
        in_artifact = _interpreter(*artifact_run, read_only)
        with_aiobotocore = _interpreter(*artifact_run, read_only | {"ROOMCAST_NOTIFIER": "async"})
        compiled = _compiled_from_source(in_artifact, subject, artifact)
        if compiled:
            raise RuntimeError(f"the artifact compiled {len(compiled)} modules: {compiled[:3]}")
        before = standin.posts
        ratios = [
            compare("cold sendMessage, artifact's pins (-S)", lambda: in_pins(subject),
                    lambda: in_pins(FLOOR), FLOOR_NAME),
            compare("cold sendMessage, the artifact (.pyc, r/o)", lambda: in_artifact(subject),
                    lambda: in_artifact(FLOOR), FLOOR_NAME),
            compare("  the same, both without interpreter exit",
                    lambda: in_artifact(subject + NO_EXIT),
                    lambda: in_artifact(FLOOR + NO_EXIT), FLOOR_NAME + ", os._exit"),
            compare("  the same with ROOMCAST_NOTIFIER=async", lambda: with_aiobotocore(subject),
                    lambda: in_artifact(FLOOR), FLOOR_NAME),
        ]
        if standin.posts - before != 20 * ROOM_MEMBERS:
            raise RuntimeError(f"the cold handlers posted {standin.posts - before} frames")
        subject_phases = _phases(in_artifact, SUBJECT_PHASES, serving(event))
        floor_phases = _phases(in_artifact, FLOOR_PHASES, "")
        for what, phases in (("cold sendMessage", subject_phases), ("floor", floor_phases)):
            print(f"where the artifact's {what} goes (ms, best of 3, without start-up and exit): "
                  + ", ".join(f"{name} {ms:.0f}" for name, ms in phases.items()))
        results = {
            "ratios": [asdict(r) for r in ratios],
            "phases_ms": subject_phases,
            "floor_phases_ms": floor_phases,
        }
        (BUILD / "cold_start.json").write_text(json.dumps(results, indent=2))
        return ratios
    finally:
        standin.stop()
        moto.stop()


class _Moto:
    def __init__(self) -> None:
        from tests.support.moto_server import _free_loopback_port, _wait_until_serving

        port = _free_loopback_port()
        BUILD.mkdir(parents=True, exist_ok=True)
        with open(BUILD / "moto.log", "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.moto_server", str(port)], cwd=ROOT,
                stdout=log, stderr=log,
            )
        self.url = f"http://127.0.0.1:{port}"
        _wait_until_serving(self.url, self._process)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


def _start_moto() -> _Moto:
    return _Moto()


def _lambda_environment(dynamodb_url: str, management_url: str) -> dict[str, str]:
    kept = {n: os.environ[n] for n in ("PATH", "HOME", "PYENV_ROOT") if n in os.environ}
    return kept | {
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "CONNECTIONS_TABLE": f"bench-{uuid.uuid4().hex[:8]}", "ROOMCAST_STORE": "dynamodb",
        "WEBSOCKET_ENDPOINT": management_url,
    }


def _fill_room(environment: dict[str, str]) -> dict[str, Any]:
    """A table from the template holding one room; the event of its first member's send."""
    import boto3

    from roomcast.adapters.clocks import SystemClock
    from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore
    from roomcast.domain.model import Connection, ConnectionId, RoomId, UserId
    from roomcast.entrypoints.gateway.template import load_template, table_definition
    from tests.support.events import message_event

    client = boto3.client(
        "dynamodb", endpoint_url=environment["AWS_ENDPOINT_URL_DYNAMODB"],
        region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench",
    )
    table = environment["CONNECTIONS_TABLE"]
    client.create_table(TableName=table, **table_definition(load_template()))
    clock = SystemClock()
    store = DynamoDBConnectionStore(client, table, clock)
    now = clock.now_ms()
    for i in range(ROOM_MEMBERS):
        expires_s = now // 1000 + 7200
        connection = Connection(ConnectionId(f"cold-{i}"), UserId(f"user{i}"), now, expires_s)
        store.add(connection)
        store.join(connection, RoomId("lobby"), now)
    return message_event("cold-0", {"action": "sendMessage", "roomId": "lobby", "message": "hi"})


def _interpreter(
    command: list[str], home: Path, path: list[str], environment: dict[str, str]
) -> Any:
    prelude = f"import sys; sys.path[:0] = {path!r}\n"

    def run(code: str, *flags: str, stdout: bool = False) -> str:
        result = subprocess.run(
            [*command, *flags, "-c", prelude + code], cwd=home, env=environment,
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed:\n{result.stderr[-2000:]}")
        return result.stdout if stdout else result.stderr

    return run


def _phases(run: Any, steps: dict[str, str], serve: str) -> dict[str, float]:
    marked = "".join(f"{step}; marks.append(time.perf_counter())\n" for step in steps.values())
    code = MARKS.replace("STEPS", marked.replace("SERVE", serve))
    # The last line: the handler prints its metrics (EMF) to stdout before it.
    timings = [
        [float(ms) for ms in run(code, stdout=True).splitlines()[-1].split()] for _ in range(3)
    ]
    return dict(zip(steps, (min(column) for column in zip(*timings, strict=True)), strict=True))


def _compiled_from_source(run: Any, code: str, artifact: Path) -> list[str]:
    """Modules of the artifact that the interpreter compiled from .py instead of loading .pyc."""
    verbose = run(code, "-v")
    return [path for path in SOURCE_COMPILED.findall(verbose) if path.startswith(str(artifact))]


def _pins() -> Path:
    stamp = PINS / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--target", str(PINS), "--upgrade", "-r", str(REQUIREMENTS)],
            check=True,
        )
        stamp.write_text(wanted)
    return PINS


def _artifact() -> Path:
    """`make package` for this machine's platform, then its write bits taken away."""
    if ARTIFACT.exists():
        _set_writable(ARTIFACT, True)
    with open(BUILD / "package.log", "w") as log:
        subprocess.run(
            ["make", "package", "LAMBDA_PLATFORM=manylinux2014_x86_64",
             f"LAMBDA_DIR={ARTIFACT.relative_to(ROOT)}", "LAMBDA_ZIP=build/bench-lambda.zip"],
            cwd=ROOT, stdout=log, stderr=log, check=True,
        )
    _set_writable(ARTIFACT, False)
    return ARTIFACT


def _set_writable(tree: Path, writable: bool) -> None:
    write_bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [tree, *tree.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~write_bits)


def _lambda_python() -> str:
    found = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "Makefile", "print-lambda-python"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not found:
        raise RuntimeError(
            "the artifact's cold start needs the Lambda runtime's Python (infra/template.yaml's "
            "Runtime), which make package could not find: install it or set LAMBDA_PYTHON"
        )
    return found
