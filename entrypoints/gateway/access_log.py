"""One console line per connect, route invocation, disconnect, refused handshake and
management API call."""

from __future__ import annotations

import logging
import time

from roomcast.entrypoints.gateway.proxy_events import Caller

# As `sam local` and serverless-offline print them: connection id, route key, status and
# duration, the client's user agent on connect. Never the query string nor a header value
# other than the user agent: tokens travel there.
log = logging.getLogger("roomcast.gateway.access")
ROUTE_WIDTH = 11  # "$disconnect"


def elapsed_ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _line(route_key: str, connection_id: str, status: int | str, started: float) -> str:
    return f"{route_key:<{ROUTE_WIDTH}} {connection_id} {status} {elapsed_ms(started):.0f} ms"


def connected(caller: Caller, status: int, started: float) -> None:
    agent = caller.user_agent or "-"
    log.info("%s %s", _line("$connect", caller.connection_id, status, started), agent)


def refused(status: int, reason: str, user_agent: str, connection_id: str = "-") -> None:
    """A handshake the gateway (or `$connect`) turned down, with why."""
    log.info("%-*s %s %s refused: %s | %s", ROUTE_WIDTH, "$connect", connection_id, status,
             reason, user_agent or "-")


def invoked(connection_id: str, route_key: str, status: int, started: float) -> None:
    log.info("%s", _line(route_key, connection_id, status, started))


def managed(
    method: str, connection_id: str, status: int, started: float, size: int | None = None
) -> None:
    """A management API call on @connections (PostToConnection, GetConnection,
    DeleteConnection): its method, the connection, the status, how long, a POST's size."""
    line = _line(f"{method} @connections", connection_id, status, started)
    log.info("%s%s", line, f" {size} bytes" if size is not None else "")


def disconnected(
    caller: Caller, code: int, reason: str, status: int | str, started: float, detail: str = ""
) -> None:
    """The connection's end: `$disconnect`'s status, then the close code and reason (and
    what the reason does not tell the client, e.g. which size limit a frame broke)."""
    lived = (time.time_ns() // 1_000_000 - caller.connected_at) / 1000
    line = _line("$disconnect", caller.connection_id, status, started)
    log.info("%s close %s %r after %.1f s%s", line, code, reason, lived,
             f": {detail}" if detail else "")
