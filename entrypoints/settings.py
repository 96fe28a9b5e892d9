"""Environment variables roomcast reads, each parsed and checked with an error that names it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen

from roomcast.adapters.endpoints import management_endpoint
from roomcast.domain.commands import DEFAULT_MAX_MESSAGE_BYTES
from roomcast.domain.fanout import DEFAULT_CALLBACK_BUDGET, DEFAULT_SHARD_SIZE
from roomcast.domain.history import DEFAULT_HISTORY_MESSAGES, MAX_HISTORY_MESSAGES
from roomcast.domain.policies import (
    DEFAULT_MAX_MEMBERS_IN_JOINED_ROOM,
    MAX_MEMBERS_IN_JOINED_ROOM,
    TWO_HOURS,
)

MIN_SECRET_BYTES = 32


class ConfigurationError(ValueError):
    """An environment variable holds a value roomcast cannot use."""


def _text(name: str, raw: str) -> str:
    return raw


def check_secret(name: str, raw: str) -> str:
    """An HS256 secret, from the environment or read from a secret store."""
    if len(raw.encode()) < MIN_SECRET_BYTES:  # RFC 7518 3.2: an HS256 key of >= 256 bits
        raise ConfigurationError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long")
    return raw


def _jwks_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    secure = parts.scheme == "https" and bool(parts.hostname)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if secure or loopback:
        return raw
    raise ConfigurationError(f"{name} must be an https:// URL (http:// on loopback), got {raw!r}")


def _endpoint(name: str, raw: str) -> str:
    try:
        return management_endpoint(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be an https:// or wss:// URL (http:// for a loopback gateway), "
            f"got {raw!r}"
        ) from None


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _whole_number(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigurationError(f"{name} must be a whole number >= 0, got {raw!r}")
    return value


def _whole_number_up_to(limit: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        value = _whole_number(name, raw)
        if value > limit:
            raise ConfigurationError(f"{name} must be at most {limit}, got {raw!r}")
        return value

    return parse


def _positive_int_up_to(limit: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        value = _positive_int(name, raw)
        if value > limit:
            raise ConfigurationError(f"{name} must be at most {limit}, got {raw!r}")
        return value

    return parse


def _one_of(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            allowed = ", ".join(choices)
            raise ConfigurationError(f"{name} must be one of {allowed}; got {raw!r}")
        return value

    return parse


@frozen
class Setting:
    env: str
    key: str
    parse: Callable[[str, str], Any]
    default: Any
    meaning: str


AUTHENTICATION_SETTINGS = (
    Setting("ROOMCAST_JWT_CLIENT_ID", "jwt_client_id", _text, None,
            "App client id: an `aud`, or a Cognito access token's `client_id`, must name it"),
    Setting("ROOMCAST_JWKS_URL", "jwks_url", _jwks_url, None,
            "JWKS of an RS256/ES256 issuer; set, $connect requires a token it signed"),
    Setting("ROOMCAST_JWKS_FILE", "jwks_file", _text, None,
            "A local JWKS JSON file, in place of ROOMCAST_JWKS_URL"),
    Setting("ROOMCAST_JWKS_MIN_REFRESH_SECONDS", "jwks_min_refresh_seconds", _positive_int, 60,
            "Least time between two JWKS reloads (a token with an unknown kid asks for one)"),
    Setting("ROOMCAST_JWT_SECRET_PARAMETER", "jwt_secret_parameter", _text, None,
            "SSM parameter (SecureString) holding the HS256 secret, read once per process"),
    Setting("ROOMCAST_JWT_SECRET_ID", "jwt_secret_id", _text, None,
            "Secrets Manager secret holding the HS256 secret, read once per process"),
)
KEY_SOURCES = ("jwt_secret", "jwt_secret_parameter", "jwt_secret_id", "jwks_url", "jwks_file")


SETTINGS = (
    Setting("CONNECTIONS_TABLE", "table_name", _text, None,
            "DynamoDB table name (required with the dynamodb store)"),
    Setting("WEBSOCKET_ENDPOINT", "websocket_endpoint", _endpoint, None,
            "Management API endpoint; unset: derived from each event's domainName/stage"),
    Setting("ROOMCAST_STORE", "store", _one_of("dynamodb", "memory"), "dynamodb",
            "Connection store: `dynamodb` or `memory` (one per process)"),
    Setting("ROOMCAST_NOTIFIER", "notifier", _one_of("http", "async", "sync"), "http",
            "PostToConnection fan-out: `http` (SigV4-signed, urllib3 then aiohttp), "
            "`async` (aiobotocore) or `sync` (boto3)"),
    Setting("ROOMCAST_FANOUT_CONCURRENCY", "fanout_concurrency", _positive_int, 50,
            "Most PostToConnection calls in flight at once"),
    Setting("FANOUT_QUEUE_URL", "fanout_queue_url", _text, None,
            "SQS queue for the shards of big broadcasts; unset: every post from the sender's "
            "invocation"),
    Setting("ROOMCAST_FANOUT_SHARD_SIZE", "fanout_shard_size", _positive_int,
            DEFAULT_SHARD_SIZE, "Recipients one invocation posts to; a bigger room's others "
            "go to the queue in shards of this size"),
    Setting("ROOMCAST_CALLBACK_BUDGET", "callback_budget", _positive_int,
            DEFAULT_CALLBACK_BUDGET, "PostToConnection calls per second the deliver workers "
            "may make in all (the account's limit is 10,000, shared by every API)"),
    Setting("ROOMCAST_MAX_ROOMS_PER_CONNECTION", "max_rooms_per_connection", _positive_int, 1,
            "Rooms one connection may be in; joining one more leaves the oldest"),
    Setting("ROOMCAST_MAX_MESSAGE_BYTES", "max_message_bytes", _positive_int,
            DEFAULT_MAX_MESSAGE_BYTES, "Largest `message` text accepted, in UTF-8 bytes"),
    Setting("ROOMCAST_CONNECTION_TTL_SECONDS", "connection_ttl_seconds", _positive_int,
            TWO_HOURS, "TTL of stored connections (API Gateway closes them after 2 h)"),
    Setting("ROOMCAST_MAX_MEMBERS_PER_ROOM", "max_members_per_room", _positive_int, None,
            "Members one room may have; unset: no limit"),
    Setting("ROOMCAST_MAX_MEMBERS_IN_JOINED_ROOM", "max_members_in_joined_room",
            _positive_int_up_to(MAX_MEMBERS_IN_JOINED_ROOM), DEFAULT_MAX_MEMBERS_IN_JOINED_ROOM,
            "Most user ids one joinedRoom lists (it always fits under 128 KB)"),
    Setting("ROOMCAST_HISTORY_MESSAGES", "history_messages",
            _whole_number_up_to(MAX_HISTORY_MESSAGES), DEFAULT_HISTORY_MESSAGES,
            "Messages each room retains for replay (0: none; frames still carry `seq`)"),
    Setting("ROOMCAST_HISTORY_SECONDS", "history_seconds", _whole_number, TWO_HOURS,
            "How long a retained message is replayed, in seconds (0: none)"),
    Setting("ROOMCAST_ROOM_ACCESS", "room_access", _one_of("open", "token"), "open",
            "Who may enter a room: `open` (every connection, every room) or `token` (only "
            "the rooms the identity's `rooms` claim grants; needs authentication)"),
    Setting("ROOMCAST_JWT_SECRET", "jwt_secret", check_secret, None,
            "HS256 secret; set, $connect requires a `token` and the user is its `sub`"),
    Setting("ROOMCAST_JWT_AUDIENCE", "jwt_audience", _text, None,
            "Required `aud` claim, checked when set"),
    Setting("ROOMCAST_JWT_ISSUER", "jwt_issuer", _text, None,
            "Required `iss` claim, checked when set"),
    *AUTHENTICATION_SETTINGS,
    Setting("ROOMCAST_ENVIRONMENT", "environment", _text, "local",
            "The `Environment` dimension of roomcast's metrics (the stack sets its stage)"),
)


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every setting by key; an unset or empty variable takes its default."""
    values = {s.key: _read(s, environ) for s in SETTINGS}
    if values["store"] == "dynamodb" and not values["table_name"]:
        raise ConfigurationError("CONNECTIONS_TABLE is required when ROOMCAST_STORE=dynamodb")
    _one_key_source(values)
    return values


def _one_key_source(values: Mapping[str, Any]) -> None:
    chosen = [s.env for s in SETTINGS if s.key in KEY_SOURCES and values[s.key] is not None]
    if len(chosen) > 1:
        raise ConfigurationError(f"set only one of {', '.join(chosen)}: each picks the keys")


def check_room_access(values: Mapping[str, Any]) -> None:
    """`token` grants only what a verified identity carries: with no key source, and no
    authorizer vouching for the connection, nobody could ever reach a room."""
    if values.get("room_access") == "token" and not any(values.get(k) for k in KEY_SOURCES):
        sources = ", ".join(s.env for s in SETTINGS if s.key in KEY_SOURCES)
        raise ConfigurationError(
            f"ROOMCAST_ROOM_ACCESS=token needs authentication: set one of {sources}, "
            "or put the $connect authorizer in front"
        )


def _read(setting: Setting, environ: Mapping[str, str]) -> Any:
    raw = environ.get(setting.env, "").strip()
    return setting.parse(setting.env, raw) if raw else setting.default
