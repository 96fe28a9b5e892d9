"""Who may use a gateway on a developer's laptop: Host (against DNS rebinding) and Origin."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Content types a page may POST without a CORS preflight: its request reaches the handler.
SIMPLE_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
CROSS_SITE = frozenset({"cross-site", "same-site"})


def normalized_origin(origin: str) -> str:
    """`scheme://host[:port]`, lowercased and without a trailing slash or path."""
    parts = urlsplit(origin.strip().lower())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else origin


def _hostname(host_header: str) -> str:
    return (urlsplit(f"//{host_header}").hostname or "").lower()


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OriginPolicy:
    """A web page the developer visits can open a WebSocket to 127.0.0.1 and, through a name
    that resolves to 127.0.0.1 (DNS rebinding), read and post anything.

    So the gateway answers only requests addressed to a loopback name, an IP address or the
    host it is bound to; takes WebSocket upgrades only from no Origin, its own origin, a
    loopback origin on any port or an `--allowed-origin`; and serves its management API to
    non-browser callers (the AWS CLI and boto3 send no Origin) and to its own pages only."""

    bound_host: str = "127.0.0.1"
    allowed_origins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, bound_host: str, allowed_origins: Iterable[str] = ()) -> OriginPolicy:
        return cls(bound_host.lower(), frozenset(normalized_origin(o) for o in allowed_origins))

    def host_problem(self, host_header: str | None) -> str | None:
        """Why a request addressed to this Host is refused; a rebound DNS name is."""
        if host_header is None:
            return None
        name = _hostname(host_header)
        if name in LOOPBACK_NAMES or name.endswith(".localhost") or _is_ip_address(name):
            return None
        if name == self.bound_host:
            return None
        return f"Host {host_header!r} is not this gateway's"

    def websocket_origin_problem(self, origin: str | None, host_header: str | None) -> str | None:
        """Why a WebSocket upgrade from this Origin is refused (None: it is allowed)."""
        if origin is None:
            return None
        hostname = urlsplit(origin.strip().lower()).hostname or ""
        if hostname in LOOPBACK_NAMES or self._is_own_or_allowed(origin, host_header):
            return None
        return f"Origin {origin!r} is not allowed (add it with --allowed-origin)"

    def management_problem(
        self, method: str, headers: Mapping[str, str], host_header: str | None
    ) -> str | None:
        """Why a management API request looks like a browser's from another site."""
        if headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
            return f"a cross-site browser request (Sec-Fetch-Site: {headers['Sec-Fetch-Site']})"
        origin = headers.get("Origin")
        if origin is None:
            return None
        if not self._is_own_or_allowed(origin, host_header):
            return f"a browser request from Origin {origin!r}"
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if method == "POST" and content_type in SIMPLE_CONTENT_TYPES:
            return f"a page's form-like POST ({content_type})"
        return None

    def _is_own_or_allowed(self, origin: str, host_header: str | None) -> bool:
        normalized = normalized_origin(origin)
        own = host_header is not None and normalized == f"http://{host_header.lower()}"
        return own or normalized in self.allowed_origins
