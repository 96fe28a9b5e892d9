"""Who a connecting client is, when something other than its own claim says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomcast.domain import errors
from roomcast.domain.model import UserId, valid_user_id

if TYPE_CHECKING:  # typed by the port, never importing it at run time
    from roomcast.ports import TokenVerifier


def identify(
    verifier: TokenVerifier | None,
    claimed: UserId,
    token: str | None,
    authorized: UserId | None,
) -> UserId:
    """Who a connecting client is. A user an authorizer in front of the API vouched for
    (`authorized`) is who connects. Otherwise, with a verifier the user is whoever the token
    proves, never the `claimed` id, and no token means Unauthorized; without one the claim is
    taken as given.

    Whoever it comes from, the id must pass `valid_user_id`: a claim that does not is
    InvalidUserId (400); an authorizer's or a token's is Unauthorized (401).
    """
    if authorized is not None:
        return authenticated(authorized)
    if verifier is None:
        return valid_user_id(claimed.value)
    return authenticate(verifier, token)


def authenticate(verifier: TokenVerifier, token: str | None) -> UserId:
    """The user a token proves, under the user-id rule; Unauthorized for anything less."""
    if not token:
        raise errors.Unauthorized("token required")
    return authenticated(verifier.verify(token))


def authenticated(user_id: UserId) -> UserId:
    """An id a verifier or an authorizer vouched for must still keep the user-id rule."""
    try:
        return valid_user_id(user_id.value)
    except errors.InvalidUserId as refused:
        raise errors.Unauthorized(f"invalid identity: {refused.message}") from None
