"""The `roomcast` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from roomcast.entrypoints.cli.commands import add_commands as add_operator_commands
from roomcast.entrypoints.cli.extras import missing_dependency
from roomcast.entrypoints.cli.sources import STAGE_NAME
from roomcast.entrypoints.cli.token import add_token_command

Number = TypeVar("Number", int, float)
DISTRIBUTION = "roomcast"


class _Version(argparse.Action):
    """`--version`: the installed distribution's version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(DISTRIBUTION)
        except PackageNotFoundError:
            found = "(not installed: no distribution metadata)"
        print(f"{parser.prog} {found}")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roomcast",
        description="Real-time rooms on AWS API Gateway WebSocket APIs.",
    )
    parser.add_argument("--version", action=_Version, help="print roomcast's version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(commands)
    _add_stats(commands)
    add_operator_commands(commands)
    add_token_command(commands)
    return parser


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the local API Gateway WebSocket gateway and the chat page",
        description="Serve the template's WebSocket API on loopback, running its real handlers.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8080, help="0 picks a free port")
    serve.add_argument(
        "--stage", type=_stage, default=None,
        help="stage name, the URL path /{stage}: 1-128 letters, digits, - and _ "
        "(default: the template's StageName)",
    )
    serve.add_argument(
        "--store", choices=("memory", "dynamodb"), default="memory",
        help="connection store the handlers use (dynamodb: CONNECTIONS_TABLE or the template's)",
    )
    serve.add_argument(
        "--template", type=Path, default=argparse.SUPPRESS,
        help="CloudFormation template to serve (default: the project's infra/template.yaml)",
    )
    serve.add_argument(
        "--workers", type=_positive(int), default=32, help="handler threads (concurrency)"
    )
    serve.add_argument(
        "--max-queued", type=_positive(int), default=10_000, metavar="FRAMES",
        help="invocations that may wait for a worker; beyond, 'Too Many Requests'",
    )
    serve.add_argument(
        "--notifier", choices=("inprocess", "http"), default="inprocess",
        help="how roomcast's handlers deliver: straight to the sockets, or by PostToConnection "
        "through the management API",
    )
    serve.add_argument(
        "--create-table", action="store_true",
        help="with --store dynamodb: create the table from the template (TTL on) if missing",
    )
    serve.add_argument(
        "--allow-aws", action="store_true",
        help="with --store dynamodb and no AWS_ENDPOINT_URL_DYNAMODB: use the real AWS account",
    )
    serve.add_argument(
        "--allowed-origin", action="append", default=[], metavar="ORIGIN",
        help="also accept WebSocket upgrades and management calls from pages of this origin, "
        "e.g. https://app.example (repeatable; WebSockets always accept loopback origins)",
    )
    serve.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info",
        help="debug adds the handlers' own invocation records and metrics",
    )
    serve.add_argument(
        "-q", "--quiet", dest="log_level", action="store_const", const="warning",
        default=argparse.SUPPRESS, help="only warnings and errors (= --log-level warning)",
    )
    serve.add_argument(
        "--parameter-overrides", nargs="+", action="extend", type=_parameter_override,
        default=[], metavar="KEY=VALUE",
        help="template parameters, as `aws cloudformation deploy` takes them "
        "(e.g. Authentication=authorizer)",
    )
    limits = serve.add_argument_group("limits (API Gateway's by default)")
    seconds, size = _positive(float), _positive(int)
    limits.add_argument(
        "--idle-timeout", type=seconds, default=600, metavar="SECONDS",
        help="close with 1001 after this long without a frame from or to the client",
    )
    limits.add_argument(
        "--max-connection-duration", type=seconds, default=7200, metavar="SECONDS",
        help="close with 1001 after this long in all",
    )
    limits.add_argument(
        "--integration-timeout", type=seconds, default=29, metavar="SECONDS",
        help="a handler running longer answers 'Endpoint request timed out'",
    )
    limits.add_argument(
        "--handshake-timeout", type=seconds, default=10, metavar="SECONDS",
        help="close a connection that has not sent its upgrade request by then",
    )
    limits.add_argument(
        "--max-outbound-bytes", type=size, default=1024 * 1024, metavar="BYTES",
        help="close with 1008 a client this far behind in reading its frames",
    )
    limits.add_argument(
        "--max-frame-bytes", type=size, default=32 * 1024, metavar="BYTES",
        help="a larger frame closes the socket with 1009",
    )
    limits.add_argument(
        "--max-message-bytes", type=size, default=128 * 1024, metavar="BYTES",
        help="a larger (fragmented) message closes the socket with 1009",
    )
    serve.set_defaults(run=_serve)


def _parameter_override(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"a parameter override is KEY=VALUE, got {text!r}")
    return key, value


def _stage(text: str) -> str:
    if not STAGE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"a stage name is 1-128 letters, digits, - and _, got {text!r}"
        )
    return text


def _port(text: str) -> int:
    port = _number(int, text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {text}")
    return port


def _positive(kind: Callable[[str], Number]) -> Callable[[str], Number]:
    def parse(text: str) -> Number:
        value = _number(kind, text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value

    return parse


def _number(kind: Callable[[str], Number], text: str) -> Number:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _serve(args: argparse.Namespace) -> int:
    try:
        from roomcast.entrypoints.gateway.server import ServeOptions, run
        from roomcast.entrypoints.gateway.state import GatewayLimits
        from roomcast.entrypoints.gateway.template import DEFAULT_TEMPLATE
    except ModuleNotFoundError as missing:
        print(missing_dependency("serve", missing), file=sys.stderr)
        return 2

    limits = GatewayLimits(
        max_frame_bytes=args.max_frame_bytes,
        max_message_bytes=args.max_message_bytes,
        idle_timeout_seconds=args.idle_timeout,
        max_connection_seconds=args.max_connection_duration,
        integration_timeout_seconds=args.integration_timeout,
        max_outbound_bytes=args.max_outbound_bytes,
    )
    options = ServeOptions(
        host=args.host,
        port=args.port,
        stage=args.stage,
        store=args.store,
        template=getattr(args, "template", DEFAULT_TEMPLATE),
        workers=args.workers,
        max_queued=args.max_queued,
        notifier=args.notifier,
        handshake_timeout=args.handshake_timeout,
        limits=limits,
        allowed_origins=tuple(args.allowed_origin),
        log_level=args.log_level,
        create_table=args.create_table,
        allow_aws=args.allow_aws,
        parameter_overrides=dict(args.parameter_overrides),
    )
    return run(options)


def _add_stats(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = commands.add_parser(
        "stats",
        help="live connections and members per room, from the configured store (as JSON)",
        description="Reads the store chosen by ROOMCAST_STORE (dynamodb by default), or a "
        "running roomcast serve (--gateway); prints its JSON report with or without --json.",
    )
    stats.add_argument(
        "--json", action="store_true",
        help="print JSON for scripts (as every operator command takes it; stats always does)",
    )
    stats.add_argument(
        "--gateway", metavar="URL",
        help="a running roomcast serve, e.g. http://127.0.0.1:8080: its own counts",
    )
    stats.add_argument("--table", help="DynamoDB table (default: $CONNECTIONS_TABLE)")
    stats.set_defaults(run=_stats)


def _stats(args: argparse.Namespace) -> int:
    from roomcast.entrypoints.cli.errors import setting_problem
    from roomcast.entrypoints.containers import build_container
    from roomcast.entrypoints.settings import ConfigurationError

    if args.gateway:
        return _gateway_stats(args.gateway)

    environ = {**os.environ, **({"CONNECTIONS_TABLE": args.table} if args.table else {})}
    try:
        container = build_container(environ)
    except ConfigurationError as error:
        problem = setting_problem(error, gateway_reads=True)
        print(f"roomcast stats: {problem}", file=sys.stderr)
        return problem.exit_code
    stats = container.store().stats()
    report = {
        "totalConnections": stats.total_connections,
        "roomCounts": dict(sorted(stats.room_counts.items())),
        "timestamp": container.clock().now_ms(),
    }
    print(json.dumps(report, indent=2))
    return 0


def _gateway_stats(url: str) -> int:
    """The report `stats` prints from the store, made from a running gateway's listing,
    which sees its memory store."""
    import time
    from collections import Counter

    from roomcast.entrypoints.cli.errors import OperatorError
    from roomcast.entrypoints.cli.sources import GatewaySource

    try:
        rows = GatewaySource(url).connections()
    except OperatorError as error:
        print(f"roomcast stats: {error}", file=sys.stderr)
        return error.exit_code
    rooms = Counter(room for row in rows for room in row.rooms)
    report = {
        "totalConnections": len(rows),
        "roomCounts": dict(sorted(rooms.items())),
        "timestamp": time.time_ns() // 1_000_000,
    }
    print(json.dumps(report, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args))
