"""roomcast_client: an asyncio client for roomcast's wire protocol that survives reconnects.

Why a top-level package rather than `entrypoints/client.py`: `entrypoints/` holds the server's
driving side (Lambda handlers, the local gateway, the CLI), the code that calls into the
domain and that nothing imports. A client is the other end of the wire, an outside actor
like the browser page: it knows only the JSON protocol and imports nothing from `domain/`,
`ports/`, `adapters/` or `entrypoints/`. As its own package it needs only `websockets`, can
be used by an application (or a load test) without the server's stack, and cannot blur the
dependency rule. The e2e tests drive the gateway with it.

Its one dependency, `websockets`, is the `client` extra (`pip install 'roomcast[client]'`)
rather than a base dependency: the base install is what the Lambda handlers need, and the
Lambda artifact has no use for a WebSocket client.
"""

try:
    import websockets  # noqa: F401
except ModuleNotFoundError as missing:
    raise ModuleNotFoundError(
        "roomcast_client: websockets is not installed: pip install 'roomcast[client]'",
        name=missing.name,
    ) from None

from roomcast_client.client import RoomcastClient
from roomcast_client.continuity import Gap

__all__ = ["Gap", "RoomcastClient"]
