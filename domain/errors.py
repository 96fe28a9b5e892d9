"""Domain errors; each carries the message the client sees in its error frame."""

from __future__ import annotations

import enum


class DomainError(Exception):
    """A request the domain refuses; `message` goes to the sender as an error frame."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidJson(DomainError):
    def __init__(self) -> None:
        super().__init__("Invalid JSON")


class NotAnObject(DomainError):
    def __init__(self) -> None:
        super().__init__("Message must be a JSON object")


class MissingAction(DomainError):
    def __init__(self) -> None:
        super().__init__("action required")


class UnknownAction(DomainError):
    def __init__(self, action: str) -> None:
        super().__init__(f"Unknown action: {printable(action)}")


def printable(text: str) -> str:
    """Text echoed to a client: a lone surrogate (JSON's "\\udc80") is shown as that escape,
    since UTF-8 cannot carry it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class RoomIdRequired(DomainError):
    def __init__(self) -> None:
        super().__init__("roomId required")


class RoomIdAndMessageRequired(DomainError):
    def __init__(self) -> None:
        super().__init__("roomId and message required")


class InvalidRoomId(DomainError):
    def __init__(self, room_id: object) -> None:
        super().__init__(
            "Invalid roomId: use 1-128 letters, digits or -_.: characters"
        )
        self.room_id = room_id


class InvalidUserId(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Invalid userId: use 1-128 bytes of UTF-8 without control or format characters"
        )


class MessageTooLarge(DomainError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Message too large: at most {limit} bytes of UTF-8")
        self.limit = limit


class InvalidSince(DomainError):
    def __init__(self) -> None:
        super().__init__("Invalid since: use a whole number >= 0")


class InvalidEpoch(DomainError):
    def __init__(self) -> None:
        super().__init__("Invalid epoch: send back the epoch a joinedRoom gave")


class RoomFull(DomainError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Room is full: at most {limit} members")
        self.limit = limit


class NotInRoom(DomainError):
    def __init__(self) -> None:
        super().__init__("Not in room")


class NotAllowed(DomainError):
    """The connection's grant does not give what the frame asks for in that room."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("Not allowed in this room")


class InvalidGrant(DomainError):
    """A `rooms` claim that is not a grant; whoever vouched for it, the identity is refused."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"Invalid rooms claim: {problem}")


class NotConnected(DomainError):
    """The store has no live record of the sending connection (expired or swept)."""

    def __init__(self) -> None:
        super().__init__("Not connected")


class InternalError(DomainError):
    status_code = 500

    def __init__(self) -> None:
        super().__init__("Internal error")


class Unauthorized(Exception):
    """The connecting client did not prove who it is; $connect answers 401."""


class ConnectionNotFound(Exception):
    """Raised by a store when an operation needs a connection that does not exist."""


class ConcurrentUpdate(Exception):
    """Raised by a store when a connection changed since it was read (optimistic lock)."""


class ShardUndelivered(Exception):
    """Raised by a worker when some of a shard's recipients could not be reached and could
    not be queued again: the queue redelivers the whole shard, then dead-letters it."""


class MembershipChanged(Exception):
    """Raised by a room log when the room's members changed since the caller read them: its
    member list is stale, and what it was about to send would miss someone."""


class ConnectionGone(Exception):
    """Raised by a notifier when the target connection no longer exists (HTTP 410)."""


class FailureKind(enum.Enum):
    """Why a frame was not delivered, as the notifier that tried knows it; a closed set, so
    that whoever counts failures (metrics, alarms) needs no parsing of messages."""

    RATE_LIMITED = "rate limited"  # 429 on every attempt
    PAYLOAD_TOO_LARGE = "payload too large"  # 413
    FORBIDDEN = "forbidden"  # 403: refused credentials or signature, or not allowed
    SERVER_ERROR = "server error"  # 5xx
    TIMEOUT = "timeout"  # no answer in time, connecting or reading
    UNREACHABLE = "unreachable"  # no connection: refused, or closed before an answer
    OTHER = "other"  # anything else: another status, no credentials, a bug


class DeliveryFailed(Exception):
    """Raised by a notifier when a frame could not be delivered for a reason other than the
    connection being gone: `kind` for counting, `message` for a human reading the logs."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
