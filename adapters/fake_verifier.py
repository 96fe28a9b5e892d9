"""A fake TokenVerifier: accepts exactly the tokens it was given, each for one user."""

from __future__ import annotations

from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import UserId


class FakeTokenVerifier:
    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self._tokens = dict(tokens or {})

    def issue(self, token: str, user_id: str) -> str:
        self._tokens[token] = user_id
        return token

    def verify(self, token: str) -> UserId:
        if token not in self._tokens:
            raise Unauthorized("invalid token")
        return UserId(self._tokens[token])
