"""A fake TokenVerifier: accepts exactly the tokens it was given, each for one user (and,
when given one, a `rooms` claim)."""

from __future__ import annotations

from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import NO_CLAIM, UserId, Verified


class FakeTokenVerifier:
    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self._tokens = {token: Verified(UserId(user)) for token, user in (tokens or {}).items()}

    def issue(self, token: str, user_id: str, rooms: object = NO_CLAIM) -> str:
        self._tokens[token] = Verified(UserId(user_id), rooms)
        return token

    def verify(self, token: str) -> Verified:
        if token not in self._tokens:
            raise Unauthorized("invalid token")
        return self._tokens[token]
