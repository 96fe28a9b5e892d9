"""TokenVerifier for HS256 JSON Web Tokens (PyJWT): the user is the token's `sub` claim."""

from __future__ import annotations

from roomcast.adapters.jwt_claims import ClaimRules, verified_token
from roomcast.domain.model import Verified

ALGORITHM = "HS256"


class JwtVerifier:
    def __init__(
        self,
        secret: str,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_seconds: int = 30,
        client_id: str | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        self._secret = secret
        self._rules = ClaimRules(audience, issuer, client_id, leeway_seconds)

    def verify(self, token: str) -> Verified:
        return verified_token(token, self._secret, ALGORITHM, self._rules)
