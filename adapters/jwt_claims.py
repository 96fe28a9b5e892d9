"""What every roomcast JWT must prove, whoever signed it: `exp`, a `sub`, typed claims, aud/iss;
and the one claim beyond them the domain reads, `rooms`, handed over as it is."""

from __future__ import annotations

from typing import Any

import jwt
from attrs import frozen

from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import NO_CLAIM, UserId, Verified

# RFC 7519 section 4.1: these are NumericDate values. PyJWT passes them through int(), so a
# string such as "9999999999" would otherwise be taken as a time.
NUMERIC_CLAIMS = ("exp", "nbf", "iat")


@frozen
class ClaimRules:
    """`audience`/`issuer` are checked when set. With `client_id` set, a token passes when its
    `aud` names the client (or `audience`), or, having no `aud`, its `client_id` claim names
    the client: Cognito's access tokens carry `client_id` where ID tokens carry `aud`."""

    audience: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    leeway_seconds: int = 30


ROOMS_CLAIM = "rooms"


def verified_token(token: str, key: Any, algorithm: str, rules: ClaimRules) -> Verified:
    """The `sub` of a token signed by `key` with exactly `algorithm`, and its `rooms` claim
    untouched (the domain decides what it grants); Unauthorized otherwise."""
    pyjwt_checks_audience = rules.audience is not None and rules.client_id is None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],  # pinned: never let the token's header choose
            audience=rules.audience if pyjwt_checks_audience else None,
            issuer=rules.issuer,
            leeway=rules.leeway_seconds,
            options={"require": ["exp", "sub"], "verify_aud": pyjwt_checks_audience},
        )
    except jwt.PyJWTError as refused:
        raise Unauthorized(f"invalid token: {refused}") from None
    _check_registered_types(claims)
    if rules.client_id is not None:
        _check_client(claims, rules)
    return Verified(UserId(claims["sub"]), claims.get(ROOMS_CLAIM, NO_CLAIM))


def _check_registered_types(claims: dict[str, Any]) -> None:
    for name in NUMERIC_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unauthorized(f"invalid token: {name} must be a number")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("invalid token: sub must be a non-empty string")


def _check_client(claims: dict[str, Any], rules: ClaimRules) -> None:
    accepted = {rules.client_id, rules.audience} - {None}
    if "aud" in claims:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not accepted.intersection(a for a in audiences if isinstance(a, str)):
            raise Unauthorized("invalid token: aud names another client")
    elif claims.get("client_id") != rules.client_id:
        raise Unauthorized("invalid token: client_id names another client")
