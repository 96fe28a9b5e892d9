"""Public keys from a JWKS (a URL or a file), each pinned to one algorithm, cached and refreshed."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jwt
from attrs import frozen

from roomcast.domain.errors import Unauthorized

log = logging.getLogger(__name__)

JwksLoader = Callable[[], Any]

# The only algorithms a JWKS key may carry. Symmetric (`oct`) keys are never taken from a
# JWKS: a published key is public, and HMAC with it would let anyone sign.
ALGORITHM_FOR: dict[tuple[object, object], str] = {("RSA", None): "RS256", ("EC", "P-256"): "ES256"}
MIN_RSA_BITS = 2048
MAX_JWKS_BYTES = 1 << 20


class JwksUnavailable(RuntimeError):
    """The key set could not be read: the server's problem, not the client's token."""


@frozen
class PinnedKey:
    kid: str
    algorithm: str
    key: Any


def parse_jwks(document: object) -> dict[str, PinnedKey]:
    """Signing keys by `kid`; keys roomcast cannot pin to RS256 or ES256 are left out."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise JwksUnavailable("a JWKS is a JSON object with a `keys` list")
    keys = (_pinned(entry) for entry in entries if isinstance(entry, Mapping))
    return {key.kid: key for key in keys if key is not None}


def _pinned(jwk: Mapping[str, Any]) -> PinnedKey | None:
    kid, kty = jwk.get("kid"), jwk.get("kty")
    algorithm = ALGORITHM_FOR.get((kty, jwk.get("crv") if kty == "EC" else None))
    if not isinstance(kid, str) or not kid or algorithm is None:
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", algorithm) != algorithm:
        return None
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=algorithm).key
    except jwt.PyJWTError:
        log.warning("JWKS key %r is malformed; left out", kid)
        return None
    if algorithm == "RS256" and key.key_size < MIN_RSA_BITS:
        log.warning("JWKS key %r is a %d-bit RSA key; left out", kid, key.key_size)
        return None
    return PinnedKey(kid, algorithm, key)


def file_loader(path: str | Path) -> JwksLoader:
    def load() -> Any:
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as problem:
            raise JwksUnavailable(f"cannot read the JWKS file {path}: {problem}") from None

    return load


def url_loader(url: str, timeout_seconds: float = 5.0) -> JwksLoader:
    def load() -> Any:
        try:
            with urllib.request.urlopen(url, timeout=timeout_seconds) as answer:
                body = answer.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
            return json.loads(body)
        except (OSError, ValueError) as problem:
            raise JwksUnavailable(f"cannot fetch the JWKS at {url}: {problem}") from None

    return load


class JwksCache:
    """Keys loaded on first use, reloaded when older than `max_age_seconds` or when a token
    names a `kid` not in the set (a rotation); never reloaded more than once per
    `min_refresh_seconds`, so tokens with made-up kids cannot make it hammer the issuer."""

    def __init__(
        self,
        load: JwksLoader,
        min_refresh_seconds: float = 60.0,
        max_age_seconds: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str, PinnedKey] | None = None
        self._loaded_at = self._tried_at = float("-inf")
        self.loads = 0

    def key_for(self, kid: str) -> PinnedKey:
        with self._lock:
            if self._keys is None or self._age() >= self._max_age or kid not in self._keys:
                self._refresh_if_allowed()
            found = (self._keys or {}).get(kid)
        if found is None:
            raise Unauthorized(f"invalid token: unknown kid {kid[:64]!r}")
        return found

    def _age(self) -> float:
        return self._monotonic() - self._loaded_at

    def _refresh_if_allowed(self) -> None:
        now = self._monotonic()
        if now - self._tried_at < self._min_refresh:
            if self._keys is None:
                raise JwksUnavailable("the JWKS could not be loaded; retrying later")
            return
        self._tried_at = now
        self.loads += 1
        try:
            self._keys, self._loaded_at = parse_jwks(self._load()), now
        except JwksUnavailable:
            if self._keys is None:
                raise
            log.warning("JWKS refresh failed; keeping the keys loaded before", exc_info=True)
