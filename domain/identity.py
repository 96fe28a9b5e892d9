"""Who a connecting client is, when something other than its own claim says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomcast.domain import errors
from roomcast.domain.model import UserId, valid_user_id

if TYPE_CHECKING:  # typed by the port, never importing it at run time
    from roomcast.ports import TokenVerifier


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
