"""TokenVerifier: who a connecting client is, when authentication is configured."""

from __future__ import annotations

from typing import Protocol

from roomcast.domain.model import UserId


class TokenVerifier(Protocol):
    def verify(self, token: str) -> UserId:
        """The user the token proves; raise Unauthorized for any token it does not accept."""
        ...
