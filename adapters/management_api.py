"""What the PostToConnection notifiers share: client settings, error translation, retry policy."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

from attrs import frozen
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

from roomcast.domain.errors import ConnectionGone, DeliveryFailed
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult


def client_settings(max_pool_connections: int = 10) -> dict[str, Any]:
    """Keyword arguments for botocore's Config (or aiobotocore's AioConfig).

    botocore retries 429 itself in both retry modes (standard lists LimitExceededException
    among its throttling codes, legacy retries any HTTP 429), with its own backoff and retry
    quota; on top of our loop that would multiply attempts (5 x 3) and blur the bound. So
    botocore makes exactly one attempt and RetryPolicy alone decides: it retries 429s and
    connections that failed before the request was handled (see `translate`). 5xx and read
    timeouts are not retried: the frame may already have been delivered.
    """
    return {
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "connect_timeout": 3,
        "read_timeout": 5,
        "max_pool_connections": max_pool_connections,
    }


@frozen
class RetryPolicy:
    """Bounded exponential backoff with full jitter for 429 LimitExceededException."""

    attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 2.0

    def pauses(self) -> Iterator[float]:
        """The pause before each attempt: none before the first, then jittered and growing."""
        yield 0.0
        for retry in range(self.attempts - 1):
            yield random.uniform(0, min(self.max_delay, self.base_delay * 2**retry))


class Retryable(Exception):
    """One attempt failed in a way that another attempt, after a pause, may not."""


class Throttled(Retryable):
    """The attempt was answered 429 LimitExceededException."""


class Unreachable(Retryable):
    """The connection failed before the request was handled: refused, timed out while
    connecting, or a pooled keep-alive connection the server had closed, as happens to
    the first posts after a Lambda execution environment thaws."""


def translate(error: Exception) -> Exception:
    """Map an SDK error to ConnectionGone, Throttled, Unreachable or DeliveryFailed.

    The modeled exceptions (client.exceptions.GoneException...) are the ClientErrors whose
    code is the modeled name (botocore picks the class by x-amzn-ErrorType), so matching the
    code treats them, and a ClientError parsed from a raw answer, alike.
    """
    if isinstance(error, ConnectionClosedError | EndpointConnectionError | ConnectTimeoutError):
        return Unreachable(f"{type(error).__name__}: {error}")
    if not isinstance(error, ClientError):
        return DeliveryFailed(f"{type(error).__name__}: {error}")
    code, message = _code(error), _message(error)
    if code == "GoneException":
        return ConnectionGone(message)
    if code == "LimitExceededException":
        return Throttled(message)
    if code == "PayloadTooLargeException":
        return DeliveryFailed(f"payload too large (413): {message}")
    if code == "ForbiddenException":
        return DeliveryFailed(f"forbidden (403): {message}")
    return DeliveryFailed(f"{code} ({_status(error)}): {message}")


def exhausted(last: Retryable | None, attempts: int) -> DeliveryFailed:
    if last is None or isinstance(last, Throttled):
        return DeliveryFailed(f"rate limited (429) after {attempts} attempts")
    return DeliveryFailed(f"{last} (after {attempts} attempts)")


def tally(outcomes: Iterable[tuple[ConnectionId, Exception | None]]) -> BroadcastResult:
    """Fold per-recipient outcomes (None for delivered) into a BroadcastResult."""
    delivered = 0
    gone: set[ConnectionId] = set()
    failed: dict[ConnectionId, str] = {}
    for connection_id, outcome in outcomes:
        if outcome is None:
            delivered += 1
        elif isinstance(outcome, ConnectionGone):
            gone.add(connection_id)
        else:
            failed[connection_id] = str(outcome)
    return BroadcastResult(delivered=delivered, gone=frozenset(gone), failed=failed)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _status(error: ClientError) -> str:
    return str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or _code(error))
