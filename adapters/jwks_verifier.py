"""TokenVerifier for RS256/ES256 JWTs signed by a key from a JWKS (Cognito, Auth0, Okta...)."""

from __future__ import annotations

import jwt

from roomcast.adapters.jwks_keys import JwksCache
from roomcast.adapters.jwt_claims import ClaimRules, verified_token
from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import Verified


class JwksVerifier:
    def __init__(self, keys: JwksCache, rules: ClaimRules) -> None:
        self._keys = keys
        self._rules = rules

    def verify(self, token: str) -> Verified:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as refused:
            raise Unauthorized(f"invalid token: {refused}") from None
        kid, algorithm = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("invalid token: no kid in its header")
        key = self._keys.key_for(kid)
        # The key decides the algorithm: `none`, or HS256 keyed with the public key, is refused
        # here before any signature is computed (and PyJWT is told only the key's algorithm).
        if algorithm != key.algorithm:
            raise Unauthorized(f"invalid token: key {kid[:64]!r} signs {key.algorithm} only")
        return verified_token(token, key.key, key.algorithm, self._rules)
