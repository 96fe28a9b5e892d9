"""TokenVerifier: who a connecting client is, when authentication is configured."""

from __future__ import annotations

from typing import Protocol

from roomcast.domain.model import Verified


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Verified:
        """The user the token proves, with its `rooms` claim as the token has it (or
        NO_CLAIM); raise Unauthorized for any token it does not accept."""
        ...
