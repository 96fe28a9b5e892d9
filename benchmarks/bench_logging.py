"""Cold-start cost of structured logging: Lambda's native JSON (stdlib logging formatted by
the runtime's own JsonFormatter, as LoggingConfig LogFormat JSON does) and Powertools'
Logger, each against plain text logging. Fresh interpreters (-S, only the packages under
test on the path), subject and baseline interleaved, best of N, all in the same run."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_core import NullNotifier
from benchmarks.timing import Ratio, best_of, compare

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "build" / "bench-logging"
WANTED = "aws-lambda-powertools==3.37.0\nawslambdaric==4.2.2\n"
FIELDS = "{'connectionId': 'L0SM9cOFvHcCIhw=', 'routeKey': 'sendMessage', 'status': 200}"

PLAIN = (
    "import logging\n"
    "logging.basicConfig(level=logging.INFO)\n"
    "logging.getLogger('roomcast').info('invocation %s %s', 'L0SM9cOFvHcCIhw=', 200)\n"
)
NATIVE = (
    "import logging\n"
    "from awslambdaric.lambda_runtime_log_utils import JsonFormatter\n"
    "handler = logging.StreamHandler()\n"
    "handler.setFormatter(JsonFormatter())\n"
    "logging.getLogger().addHandler(handler)\n"
    "logging.getLogger().setLevel(logging.INFO)\n"
    f"logging.getLogger('roomcast').info('invocation', extra={FIELDS})\n"
)
POWERTOOLS = (
    "from aws_lambda_powertools import Logger\n"
    "logger = Logger(service='roomcast')\n"
    f"logger.info('invocation', extra={FIELDS})\n"
)


def _packages() -> Path:
    stamp = PACKAGES / ".requirements"
    if not stamp.exists() or stamp.read_text() != WANTED:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(PACKAGES),
             "--upgrade", *WANTED.split()],
            check=True,
        )
        stamp.write_text(WANTED)
    return PACKAGES


def _fresh(code: str, packages: Path) -> None:
    prelude = f"import sys; sys.path[:0] = [{str(packages)!r}]\n"
    subprocess.run(
        [sys.executable, "-S", "-c", prelude + code],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def logging_cold_start(repeats: int = 7) -> list[Ratio]:
    """[native JSON vs plain, Powertools vs plain, interpreter start vs plain]."""
    packages = _packages()
    best = {name: float("inf") for name in ("plain", "native", "powertools", "empty")}
    scripts = {"plain": PLAIN, "native": NATIVE, "powertools": POWERTOOLS, "empty": "pass"}
    for _ in range(repeats):
        for name, code in scripts.items():
            run = functools.partial(_fresh, code, packages)
            best[name] = min(best[name], best_of(run, 1))
    baseline = "plain text logging"
    return [
        Ratio("logging cold start: native JSON", best["native"], best["plain"], baseline),
        Ratio("logging cold start: Powertools Logger", best["powertools"], best["plain"], baseline),
        Ratio("  bare interpreter start, for scale", best["empty"], best["plain"], baseline),
    ]




def instrumentation_overhead(invocations: int = 500) -> Ratio:
    """A sendMessage to a 10-member room through the instrumented handler (JSON line + EMF
    document, both written to memory) against the same handler unwrapped."""
    import contextlib
    import io
    import logging
    import os

    from dependency_injector import providers

    from roomcast.entrypoints.aws_lambda import handlers
    from roomcast.entrypoints.containers import get_container, reset_container
    from roomcast.entrypoints.gateway.log_setup import JsonFormatter
    from tests.support import events

    os.environ.update(ROOMCAST_STORE="memory", WEBSOCKET_ENDPOINT=events.ENDPOINT)
    reset_container()
    get_container().notifier.override(providers.Object(NullNotifier()))
    ids = [events.new_connection_id() for _ in range(10)]
    join = {"action": "joinRoom", "roomId": "bench"}
    with contextlib.redirect_stdout(io.StringIO()):
        for connection_id in ids:
            handlers.connect(events.connect_event(connection_id, {"userId": "u"}), None)
            handlers.message(events.message_event(connection_id, join), None)
    frame = {"action": "sendMessage", "roomId": "bench", "message": "hello"}
    event = events.message_event(ids[0], frame)
    sink = logging.StreamHandler(io.StringIO())
    sink.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(sink)
    root.setLevel(logging.INFO)

    def run(handler: Callable[..., object]) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(invocations):
                handler(event, None)

    try:
        return compare(
            f"{invocations} sendMessage, instrumented handler",
            functools.partial(run, handlers.message),
            functools.partial(run, handlers.message.__wrapped__),  # type: ignore[attr-defined]
            "the same handler unwrapped",
        )
    finally:
        root.removeHandler(sink)
        reset_container()


if __name__ == "__main__":
    for ratio in (*logging_cold_start(), instrumentation_overhead()):
        print(ratio.line())
