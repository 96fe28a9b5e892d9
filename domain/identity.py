"""Who a connecting client is, and which rooms it may reach, when something other than its
own claim says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from attrs import frozen

from roomcast.domain import errors
from roomcast.domain.access import parse_grant, parse_grant_json
from roomcast.domain.model import NO_CLAIM, NO_GRANT, Grant, UserId, Verified, valid_user_id

if TYPE_CHECKING:  # typed by the port, never importing it at run time
    from roomcast.ports import TokenVerifier


@frozen
class Identity:
    """Who connects, and the rooms the proof of it grants (none for a claimed user)."""

    user_id: UserId
    grant: Grant = NO_GRANT


def identify(
    verifier: TokenVerifier | None,
    claimed: UserId,
    token: str | None,
    authorized: Verified | None,
) -> Identity:
    """Who a connecting client is. A user an authorizer in front of the API vouched for
    (`authorized`, whose `rooms` is the JSON string its context carries) is who connects.
    Otherwise, with a verifier the user is whoever the token proves, never the `claimed`
    id, and no token means Unauthorized; without one the claim is taken as given, and
    grants no room.

    Whoever it comes from, the id must pass `valid_user_id`: a claim that does not is
    InvalidUserId (400); an authorizer's or a token's is Unauthorized (401), as is a
    `rooms` claim that is not a grant.
    """
    if authorized is not None:
        grant = _grant(authorized.rooms, parse_grant_json)
        return Identity(authenticated(authorized.user_id), grant)
    if verifier is None:
        return Identity(valid_user_id(claimed.value))
    return authenticate(verifier, token)


def authenticate(verifier: TokenVerifier, token: str | None) -> Identity:
    """The user a token proves, under the user-id rule, and the rooms it grants;
    Unauthorized for anything less."""
    if not token:
        raise errors.Unauthorized("token required")
    verified = verifier.verify(token)
    return Identity(authenticated(verified.user_id), _grant(verified.rooms, parse_grant))


def authenticated(user_id: UserId) -> UserId:
    """An id a verifier or an authorizer vouched for must still keep the user-id rule."""
    try:
        return valid_user_id(user_id.value)
    except errors.InvalidUserId as refused:
        raise errors.Unauthorized(f"invalid identity: {refused.message}") from None


def _grant(claim: object, parse: Callable[[object], Grant]) -> Grant:
    if claim is NO_CLAIM:
        return NO_GRANT
    try:
        return parse(claim)
    except errors.InvalidGrant as refused:
        raise errors.Unauthorized(f"invalid identity: {refused.message}") from None
