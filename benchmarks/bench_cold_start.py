"""Cold start of the `message` handler serving its first sendMessage (a Query on a moto_server,
then the fan-out to a 10-member room through the stand-in at 10 ms per POST), against the
SDK floor: `import boto3` plus a DynamoDB and an apigatewaymanagementapi client. Both run in
fresh interpreters that see only the artifact's packages, in two set-ups:

- pins: infra/lambda-requirements.txt installed for this machine into build/bench-artifact,
  run by this Python with -S (the first run writes its __pycache__, as a virtualenv would);
- artifact: `make package` built for this machine's platform into build/bench-lambda, run by
  the Lambda runtime's Python from a read-only copy with nothing written
  (PYTHONDONTWRITEBYTECODE), checked with -v to load every module from the shipped bytecode.

Then each function from the artifact against its own floor: what its job takes from the SDK
and PyJWT alone. connect: a PutItem's client and the token checked (HS256 from the zip alone;
RS256 from a JWKS with the JWKS layer on the path, unpacked in build/bench-jwks-layer as
Lambda puts a layer's python/ on sys.path); disconnect (one room of 10) and cleanup (a sweep
probing every connection): the message floor; the authorizer: PyJWT verifying the same token.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
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
LAYER = ROOT / "build" / "bench-jwks-layer"
REQUIREMENTS = ROOT / "infra" / "lambda-requirements.txt"
ROOM_MEMBERS = 10
LEAVERS = 5  # one disconnect per timed run, each from a room of its own
SECRET = "a bench secret of at least 32 bytes"
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


def invoking(handler: str, event: dict[str, Any], check: str) -> str:
    """The handler answers the event, and `check` holds of its `answer`, or the run fails."""
    return (
        "from roomcast.entrypoints.aws_lambda import handlers\n"
        f"answer = handlers.{handler}(__import__('json').loads({json.dumps(event)!r}), None)\n"
        f"assert {check}, answer\n"
    )


FLOOR_DYNAMODB_NAME = "import boto3 + a DynamoDB client"
FLOOR_DYNAMODB = "import boto3\nboto3.client('dynamodb')\n"


def decoding(token: str, key: str, algorithm: str) -> str:
    """PyJWT alone verifying `token` with `key` (an expression), the authorizer's floor."""
    return (
        "import json, jwt\n"
        f"assert jwt.decode({token!r}, {key}, algorithms=[{algorithm!r}])['sub'] == 'alice'\n"
    )


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
        functions = _each_function(environment, lambda_python, artifact, standin)
        results = {
            "ratios": [asdict(r) for r in ratios],
            "functions": [asdict(r) for r in functions],
            "phases_ms": subject_phases,
            "floor_phases_ms": floor_phases,
        }
        (BUILD / "cold_start.json").write_text(json.dumps(results, indent=2))
        return [*ratios, *functions]
    finally:
        standin.stop()
        moto.stop()


def _each_function(
    environment: dict[str, str], lambda_python: str, artifact: Path, standin: StandIn
) -> list[Ratio]:
    """Each function's cold start from the artifact (and the JWKS layer where the template
    attaches it) against the floor of what its job takes without roomcast."""
    from tests.support import events
    from tests.support.identity import rsa_key, write_jwks

    read_only = environment | {"PYTHONDONTWRITEBYTECODE": "1"}
    jwks_key = rsa_key("bench")
    jwks_file = write_jwks(BUILD / "jwks.json", jwks_key)
    hs256 = _hs256_token("alice")
    rs256 = jwks_key.sign({"sub": "alice", "exp": int(time.time()) + 3600})
    hs256_env = read_only | {"ROOMCAST_JWT_SECRET": SECRET}
    jwks_env = read_only | {"ROOMCAST_JWKS_FILE": str(jwks_file)}
    command = [lambda_python, "-S"]
    # As the template has it: keys only where tokens are checked (a verifier imports PyJWT).
    plain = _interpreter(command, artifact, [str(artifact)], read_only)
    bare = _interpreter(command, artifact, [str(artifact)], hs256_env)
    layered = _interpreter(command, artifact, [str(artifact), str(LAYER / "python")], jwks_env)
    compiled = _compiled_from_source(
        layered, invoking("connect", events.connect_event("cold-jwks", {"token": rs256}),
                          "answer['statusCode'] == 200"), artifact, LAYER)
    if compiled:
        raise RuntimeError(f"the artifact or layer compiled {len(compiled)}: {compiled[:3]}")
    rsa_public = f"jwt.PyJWK(json.load(open({str(jwks_file)!r}))['keys'][0]).key"
    leavers = iter(events.disconnect_event(f"cold-leaver-{i}") for i in range(LEAVERS))
    before = standin.posts

    def connect(token: str) -> str:
        event = events.connect_event("cold-connect", {"token": token})
        return invoking("connect", event, "answer['statusCode'] == 200")

    def authorize(token: str) -> str:
        event = events.authorizer_event("cold-authorizer", {"token": token})
        return invoking("authorize", event, "answer['principalId'] == 'alice'")

    def disconnect() -> str:
        return invoking("disconnect", next(leavers), "answer['statusCode'] == 200")

    sweep = invoking("cleanup", events.scheduled_event(), "answer['removed'] == 0")
    ratios = [
        compare("cold connect, HS256 (the zip alone)", lambda: bare(connect(hs256)),
                lambda: bare(FLOOR_DYNAMODB + decoding(hs256, repr(SECRET), "HS256")),
                FLOOR_DYNAMODB_NAME + " + PyJWT HS256"),
        compare("cold connect, JWKS (the zip + the layer)", lambda: layered(connect(rs256)),
                lambda: layered(FLOOR_DYNAMODB + decoding(rs256, rsa_public, "RS256")),
                FLOOR_DYNAMODB_NAME + " + PyJWT RS256"),
        compare("cold disconnect from a room of 10", lambda: plain(disconnect()),
                lambda: plain(FLOOR), FLOOR_NAME, repeats=LEAVERS),
        compare("cold cleanup sweep", lambda: plain(sweep), lambda: plain(FLOOR), FLOOR_NAME),
        compare("cold authorizer, HS256 (the zip alone)", lambda: bare(authorize(hs256)),
                lambda: bare(decoding(hs256, repr(SECRET), "HS256")), "PyJWT HS256"),
        compare("cold authorizer, JWKS (the zip + the layer)",
                lambda: layered(authorize(rs256)),
                lambda: layered(decoding(rs256, rsa_public, "RS256")), "PyJWT RS256"),
    ]
    if standin.posts - before != LEAVERS * (ROOM_MEMBERS - 1):
        raise RuntimeError(f"the cold disconnects posted {standin.posts - before} frames")
    return ratios


def _hs256_token(user: str) -> str:
    import jwt

    return jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


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
    # Connected a minute ago: past the handshake grace, so that every sweep probes them all.
    connected_at, expires_s = now - 60_000, now // 1000 + 7200

    def seeded(connection_id: str, user: str, *rooms: str) -> None:
        connection = Connection(ConnectionId(connection_id), UserId(user), connected_at, expires_s)
        store.add(connection)
        for room in rooms:
            connection = store.join(connection, RoomId(room), now)

    exits = [f"exit-{i}" for i in range(LEAVERS)]
    for i in range(ROOM_MEMBERS):
        seeded(f"cold-{i}", f"user{i}", "lobby")
    for i in range(ROOM_MEMBERS - 1):
        seeded(f"cold-stayer-{i}", f"stayer{i}", *exits)
    for i, room in enumerate(exits):
        seeded(f"cold-leaver-{i}", f"leaver{i}", room)
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


def _compiled_from_source(run: Any, code: str, *trees: Path) -> list[str]:
    """Modules of these trees that the interpreter compiled from .py instead of loading .pyc."""
    verbose = run(code, "-v")
    return [path for path in SOURCE_COMPILED.findall(verbose)
            if path.startswith(tuple(map(str, trees)))]


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
    """`make package` for this machine's platform, then its write bits taken away (the
    layer's too: Lambda's /opt is as read-only as /var/task)."""
    for tree in (ARTIFACT, LAYER):
        if tree.exists():
            _set_writable(tree, True)
    with open(BUILD / "package.log", "w") as log:
        subprocess.run(
            ["make", "package", "LAMBDA_PLATFORM=manylinux2014_x86_64",
             f"LAMBDA_DIR={ARTIFACT.relative_to(ROOT)}", "LAMBDA_ZIP=build/bench-lambda.zip",
             f"LAMBDA_LAYER_DIR={LAYER.relative_to(ROOT)}",
             "LAMBDA_LAYER_ZIP=build/bench-jwks-layer.zip"],
            cwd=ROOT, stdout=log, stderr=log, check=True,
        )
    for tree in (ARTIFACT, LAYER):
        _set_writable(tree, False)
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
