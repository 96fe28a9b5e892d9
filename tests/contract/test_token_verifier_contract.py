"""TokenVerifier contract over the fake, HS256 and JWKS verifiers: the user a token proves,
and its `rooms` claim handed to the domain exactly as the token carries it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roomcast.adapters.fake_verifier import FakeTokenVerifier
from roomcast.adapters.jwks_keys import JwksCache, file_loader
from roomcast.adapters.jwks_verifier import JwksVerifier
from roomcast.adapters.jwt_claims import ClaimRules
from roomcast.adapters.jwt_verifier import JwtVerifier
from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import NO_CLAIM, UserId, Verified
from tests.support.identity import HS256_SECRET as SECRET
from tests.support.identity import SigningKey, ec_key, rsa_key, write_jwks
from tests.support.identity import hs256_signed as signed


class FakeIssuer:
    def __init__(self) -> None:
        self.verifier = FakeTokenVerifier()

    def token_for(self, user: str, **claims: Any) -> str:
        return self.verifier.issue(f"token-of-{user}", user, claims.get("rooms", NO_CLAIM))


class JwtIssuer:
    def __init__(self) -> None:
        self.verifier = JwtVerifier(SECRET)

    def token_for(self, user: str, **claims: Any) -> str:
        return signed({"sub": user, **claims})


class JwksIssuer:
    def __init__(self, key: SigningKey, path: Path) -> None:
        self.key = key
        self.verifier = JwksVerifier(JwksCache(file_loader(write_jwks(path, key))), ClaimRules())

    def token_for(self, user: str, **claims: Any) -> str:
        return self.key.sign({"sub": user, **claims})


@pytest.fixture(params=["fake", "jwt", "jwks-rs256", "jwks-es256"])
def issuer(request, tmp_path):
    if request.param.startswith("jwks"):
        key = rsa_key() if request.param.endswith("rs256") else ec_key()
        return JwksIssuer(key, tmp_path / "jwks.json")
    return {"fake": FakeIssuer, "jwt": JwtIssuer}[request.param]()


class TestVerifierContract:
    def test_a_token_it_issued_proves_its_user(self, issuer):
        assert issuer.verifier.verify(issuer.token_for("alice")) == Verified(UserId("alice"))

    @pytest.mark.parametrize(
        "rooms",
        [{"team-a": ["join", "send"], "news-*": ["join"]}, {}, None, "team-a", ["x"]],
        ids=["grant", "empty", "null", "string", "list"],
    )
    def test_a_rooms_claim_is_handed_over_as_the_token_has_it(self, issuer, rooms):
        """Whether it grants anything is the domain's to say (domain/access.py), even for
        claims it will refuse: the verifier neither reads nor drops it."""
        verified = issuer.verifier.verify(issuer.token_for("alice", rooms=rooms))
        assert verified == Verified(UserId("alice"), rooms)

    def test_a_token_without_a_rooms_claim_says_so(self, issuer):
        assert issuer.verifier.verify(issuer.token_for("alice")).rooms is NO_CLAIM

    def test_a_made_up_token_is_refused(self, issuer):
        with pytest.raises(Unauthorized):
            issuer.verifier.verify("made-up")

    def test_a_tampered_token_is_refused(self, issuer):
        token = issuer.token_for("alice")
        with pytest.raises(Unauthorized):
            issuer.verifier.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
