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
    ReadTimeoutError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from roomcast.domain.errors import ConnectionGone, DeliveryFailed, FailureKind
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult, Failure


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
    """One attempt failed in a way that another attempt, after a pause, may not; `kind` is
    what the failure counts as when no attempt is left."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Throttled(Retryable):
    """The attempt was answered 429 LimitExceededException."""

    def __init__(self, message: str) -> None:
        super().__init__(FailureKind.RATE_LIMITED, message)


class Unreachable(Retryable):
    """The connection failed before the request was handled: refused, timed out while
    connecting (of kind TIMEOUT, the others UNREACHABLE), or a pooled keep-alive connection
    the server had closed, as happens to the first posts after a Lambda execution
    environment thaws."""


# What became of one recipient's post: None when it was delivered.
Outcome = ConnectionGone | DeliveryFailed | None

# The kinds of answered requests, by HTTP status; any other 5xx is a SERVER_ERROR.
KIND_BY_STATUS = {
    429: FailureKind.RATE_LIMITED,
    413: FailureKind.PAYLOAD_TOO_LARGE,
    403: FailureKind.FORBIDDEN,
}


def kind_of_status(status: int | None) -> FailureKind:
    if status is None:
        return FailureKind.OTHER
    if status in KIND_BY_STATUS:
        return KIND_BY_STATUS[status]
    return FailureKind.SERVER_ERROR if 500 <= status < 600 else FailureKind.OTHER


def translate(error: Exception) -> Exception:
    """Map an SDK error to ConnectionGone, Throttled, Unreachable or DeliveryFailed.

    The modeled exceptions (client.exceptions.GoneException...) are the ClientErrors whose
    code is the modeled name (botocore picks the class by x-amzn-ErrorType), so matching the
    code treats them, and a ClientError parsed from a raw answer, alike.
    """
    if isinstance(error, ConnectTimeoutError):
        return Unreachable(FailureKind.TIMEOUT, _described(error))
    if isinstance(error, ConnectionClosedError | EndpointConnectionError):
        return Unreachable(FailureKind.UNREACHABLE, _described(error))
    if not isinstance(error, ClientError):
        return DeliveryFailed(_kind_of_unanswered(error), _described(error))
    code, message = _code(error), _message(error)
    if code == "GoneException":
        return ConnectionGone(message)
    if code == "LimitExceededException":
        return Throttled(message)
    if code == "PayloadTooLargeException":
        return DeliveryFailed(FailureKind.PAYLOAD_TOO_LARGE, f"payload too large (413): {message}")
    if code == "ForbiddenException":
        return DeliveryFailed(FailureKind.FORBIDDEN, f"forbidden (403): {message}")
    status = _status(error)
    return DeliveryFailed(kind_of_status(status), f"{code} ({status or '?'}): {message}")


def exhausted(last: Retryable | None, attempts: int) -> DeliveryFailed:
    if last is None or isinstance(last, Throttled):
        return DeliveryFailed(
            FailureKind.RATE_LIMITED, f"rate limited (429) after {attempts} attempts"
        )
    return DeliveryFailed(last.kind, f"{last} (after {attempts} attempts)")


def tally(outcomes: Iterable[tuple[ConnectionId, Outcome]]) -> BroadcastResult:
    """Fold per-recipient outcomes (None for delivered) into a BroadcastResult."""
    delivered = 0
    gone: set[ConnectionId] = set()
    failed: dict[ConnectionId, Failure] = {}
    for connection_id, outcome in outcomes:
        if outcome is None:
            delivered += 1
        elif isinstance(outcome, ConnectionGone):
            gone.add(connection_id)
        else:
            failed[connection_id] = Failure.of(outcome)
    return BroadcastResult(delivered=delivered, gone=frozenset(gone), failed=failed)


def _kind_of_unanswered(error: Exception) -> FailureKind:
    """A request that got no answer and is not retried (translate retries the others)."""
    if isinstance(error, ReadTimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(error, BotocoreConnectionError) and not isinstance(error, SSLError):
        return FailureKind.UNREACHABLE  # a proxy refusing, say
    return FailureKind.OTHER  # a certificate refused, no credentials, anything unforeseen


def _described(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or _code(error))
