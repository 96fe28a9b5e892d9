"""`roomcast connections | rooms | cleanup | post | kick`: an operator's view of a deployment
(the DynamoDB table) or of a running `roomcast serve` (`--gateway URL`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeAlias

from roomcast.entrypoints.cli.errors import OperatorError, aws_errors, setting_problem
from roomcast.entrypoints.cli.output import count, print_json, print_table, when
from roomcast.entrypoints.cli.sources import (
    GatewaySource,
    Source,
    TableSource,
    management_api_endpoint,
)

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Command = Callable[[argparse.Namespace], int]


def add_commands(commands: Subparsers) -> None:
    _add(commands, "connections", "list live connections: id, user, rooms, connected at",
         _connections)
    _add(commands, "rooms", "list rooms with their members", _rooms)
    cleanup = _add(commands, "cleanup",
                   "run the cleanup sweep now over the DynamoDB table; prints {checked, removed}",
                   _cleanup)
    cleanup.epilog = ("With --gateway the gone-connection probes go to that gateway; the table "
                      "is still the one swept (a gateway on its memory store cannot be).")
    post = _add(commands, "post", "send MESSAGE to one connection (PostToConnection)", _post)
    post.add_argument("connection_id", metavar="CONNECTION_ID")
    post.add_argument("message", metavar="MESSAGE",
                      help="sent as is, e.g. a JSON frame; - reads it from standard input")
    kick = _add(commands, "kick", "close one connection (DeleteConnection)", _kick)
    kick.add_argument("connection_id", metavar="CONNECTION_ID")


def _add(commands: Subparsers, name: str, summary: str, run: Command) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--gateway", metavar="URL",
                        help="a running roomcast serve, e.g. http://127.0.0.1:8080")
    parser.add_argument("--table", help="DynamoDB table (default: $CONNECTIONS_TABLE)")
    parser.add_argument("--endpoint", metavar="URL",
                        help="Management API endpoint (default: $WEBSOCKET_ENDPOINT)")
    parser.set_defaults(run=_one_line_errors(run))
    return parser


def _one_line_errors(run: Command) -> Command:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except OperatorError as error:
            print(f"roomcast {args.command}: {error}", file=sys.stderr)
            return error.exit_code

    return guarded


def _container(args: argparse.Namespace) -> Any:
    from roomcast.entrypoints.containers import build_container
    from roomcast.entrypoints.settings import ConfigurationError

    overrides = {"ROOMCAST_STORE": "dynamodb"}
    if args.table:
        overrides["CONNECTIONS_TABLE"] = args.table
    if args.endpoint:
        overrides["WEBSOCKET_ENDPOINT"] = management_api_endpoint(args.endpoint)
    try:
        return build_container({**os.environ, **overrides})
    except ConfigurationError as error:
        # cleanup sweeps the table even with --gateway; the others can do without it.
        raise setting_problem(error, gateway_reads=args.command != "cleanup") from None


def _table(args: argparse.Namespace) -> TableSource:
    container = _container(args)
    return TableSource(container, container.config.websocket_endpoint())


def _source(args: argparse.Namespace) -> Source:
    return GatewaySource(args.gateway) if args.gateway else _table(args)


def _connections(args: argparse.Namespace) -> int:
    rows = _source(args).connections()
    if args.json:
        return print_json([row.as_json() for row in rows])
    lines = [[r.connection_id, r.user_id or "?", ", ".join(r.rooms) or "-",
              when(r.connected_at)] for r in rows]
    print_table(["CONNECTION ID", "USER", "ROOMS", "CONNECTED (UTC)"], lines)
    print(count(len(rows), "connection"))
    return 0


def _rooms(args: argparse.Namespace) -> int:
    users: defaultdict[str, list[str]] = defaultdict(list)
    for row in _source(args).connections():
        for room in row.rooms:
            users[room].append(row.user_id or "?")
    rooms = {room: sorted(names) for room, names in sorted(users.items())}
    if args.json:
        return print_json([{"roomId": room, "members": len(names), "users": names}
                            for room, names in rooms.items()])
    print_table(["ROOM", "MEMBERS", "USERS"],
                 [[room, str(len(names)), ", ".join(names)] for room, names in rooms.items()])
    print(count(len(rooms), "room"))
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from roomcast.entrypoints.cli.progress import CountingStore, Progress

    gateway = GatewaySource(args.gateway) if args.gateway else None  # its URL checked first
    table = _table(args)
    endpoint = gateway.management_endpoint if gateway else table.management_endpoint
    container = table.container
    stored = table.stored_connections()
    progress = Progress("cleanup", len(stored), sys.stderr)
    store = CountingStore(container.store(), stored, progress.update)
    try:
        with aws_errors():
            service = container.chat_service(store=store,
                                             notifier=container.notifier(endpoint=endpoint))
            report = service.sweep_stale().as_dict()
    finally:
        container.notifiers().close()
    progress.finish()
    if args.json:
        return print_json(report)
    print(f"checked {report['checked']} connections, removed {report['removed']}")
    return 0


def _post(args: argparse.Namespace) -> int:
    source = _source(args)  # a bad URL or table setting is said before stdin is read
    data = _stdin_bytes() if args.message == "-" else args.message.encode()
    source.post(args.connection_id, data)
    if args.json:
        return print_json({"connectionId": args.connection_id, "posted": len(data)})
    print(f"posted {len(data)} bytes to {args.connection_id}")
    return 0


def _kick(args: argparse.Namespace) -> int:
    _source(args).kick(args.connection_id)
    if args.json:
        return print_json({"connectionId": args.connection_id, "kicked": True})
    print(f"disconnected {args.connection_id}")
    return 0


def _stdin_bytes() -> bytes:
    """MESSAGE `-`: standard input to its end, bytes as they come (a trailing newline too)."""
    stream = getattr(sys.stdin, "buffer", None)
    return bytes(stream.read()) if stream is not None else sys.stdin.read().encode()
