"""TokenVerifier for HS256 JSON Web Tokens (PyJWT): the user is the token's `sub` claim."""

from __future__ import annotations

from typing import Any

import jwt

from domain.errors import Unauthorized
from domain.model import UserId

ALGORITHMS = ["HS256"]  # pinned: never let the token's header choose (alg "none" and the like)
# RFC 7519 section 4.1: these are NumericDate values. PyJWT passes them through int(), so a
# string such as "9999999999" would otherwise be taken as a time.
NUMERIC_CLAIMS = ("exp", "nbf", "iat")


class JwtVerifier:
    def __init__(
        self,
        secret: str,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        self._secret = secret
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds

    def verify(self, token: str) -> UserId:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                # An `aud` is checked when one is configured, and ignored otherwise.
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as refused:
            raise Unauthorized(f"invalid token: {refused}") from None
        _check_registered_types(claims)
        return UserId(claims["sub"])


def _check_registered_types(claims: dict[str, Any]) -> None:
    for name in NUMERIC_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unauthorized(f"invalid token: {name} must be a number")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("invalid token: sub must be a non-empty string")
