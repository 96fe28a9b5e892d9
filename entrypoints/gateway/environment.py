"""Settings for handlers running behind `roomcast serve`, and only there."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "roomcast-local",
    "AWS_SECRET_ACCESS_KEY": "roomcast-local",
}
LOCAL_REGION = "us-east-1"


def configure(
    environ: MutableMapping[str, str], *, store: str, endpoint: str, table_name: str
) -> None:
    """What the gateway alone knows (its own management endpoint, the chosen store), set
    where the handlers read their configuration from, as in Lambda: the environment.

    Without configured ones, dummy AWS credentials and a region, so boto3 can sign requests
    to the gateway or to a local DynamoDB. Only `server` calls this; no handler imports it,
    so none of it can reach a deployment."""
    environ["ROOMCAST_STORE"] = store
    environ["WEBSOCKET_ENDPOINT"] = endpoint
    environ.setdefault("CONNECTIONS_TABLE", table_name)
    use_local_aws_defaults(environ)


def use_local_aws_defaults(environ: MutableMapping[str, str]) -> None:
    """Dummy credentials and a region, only where none are configured."""
    if not _has_aws_credentials(environ):
        environ.update(LOCAL_CREDENTIALS)
    if not _has_region(environ):
        environ["AWS_DEFAULT_REGION"] = LOCAL_REGION


def dynamodb_endpoint_override(environ: Mapping[str, str]) -> str | None:
    """The endpoint boto3 will use instead of AWS's, from its own variables."""
    return environ.get("AWS_ENDPOINT_URL_DYNAMODB") or environ.get("AWS_ENDPOINT_URL") or None


def _aws_file(environ: Mapping[str, str], variable: str, default: str) -> Path:
    return Path(environ.get(variable) or Path.home() / ".aws" / default)


def _has_aws_credentials(environ: Mapping[str, str]) -> bool:
    """Looks without asking boto3, whose credential chain may call the instance metadata IP."""
    if any(environ.get(name) for name in CREDENTIAL_VARIABLES):
        return True
    files = (
        _aws_file(environ, "AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        _aws_file(environ, "AWS_CONFIG_FILE", "config"),
    )
    return any(_mentions(path, "aws_access_key_id|credential_process|sso_") for path in files)


def _has_region(environ: Mapping[str, str]) -> bool:
    if environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"):
        return True
    return _mentions(_aws_file(environ, "AWS_CONFIG_FILE", "config"), r"^\s*region\s*=")


def _mentions(path: Path, pattern: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(pattern, text, re.MULTILINE) is not None

