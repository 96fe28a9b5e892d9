"""The Management API endpoint of a WebSocket API, from configuration or from a Lambda event."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# A WebSocket API is reached on wss:// but managed on https:// at the same host and stage;
# ws:// and http:// only make sense for a gateway on loopback (roomcast serve, test stubs).
_MANAGEMENT_SCHEMES = {"https": "https", "wss": "https", "http": "http", "ws": "http"}
_AWS_HOST = re.compile(r"[^.]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com")


def management_endpoint(url: str) -> str:
    """Normalise a WebSocket or Management API URL to the https:// (or loopback http://) form."""
    parts = urlsplit(url.strip())
    scheme = _MANAGEMENT_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a WebSocket API endpoint: {url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def endpoint_from_event(request_context: Mapping[str, Any]) -> str:
    """The endpoint API Gateway itself names in a Lambda event's requestContext."""
    return f"https://{request_context['domainName']}/{request_context['stage']}"


def region_of(endpoint: str) -> str | None:
    """The AWS region of an execute-api endpoint, or None for any other host."""
    match = _AWS_HOST.fullmatch(urlsplit(endpoint).hostname or "")
    return match["region"] if match else None
