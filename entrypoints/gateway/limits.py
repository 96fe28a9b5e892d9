"""API Gateway's WebSocket quotas, as the local gateway enforces them (all configurable)."""

from __future__ import annotations

from dataclasses import dataclass

KB = 1024


@dataclass(frozen=True)
class GatewayLimits:
    """Defaults are API Gateway's: 32 KB frames, 128 KB messages, 10 min idle, 2 h lifetime."""

    max_frame_bytes: int = 32 * KB
    max_message_bytes: int = 128 * KB
    idle_timeout_seconds: float = 10 * 60
    max_connection_seconds: float = 2 * 60 * 60
    integration_timeout_seconds: float = 29
    max_post_bytes: int = 128 * KB
    # Not API Gateway's (it drops a client that cannot keep up, at a limit it does not
    # publish): how far a client may fall behind before it is closed with 1008.
    max_outbound_bytes: int = 1024 * KB
