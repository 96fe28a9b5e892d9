"""TokenVerifier contract over the fake, HS256 and JWKS verifiers, plus what JWTs can get wrong."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from roomcast.adapters.fake_verifier import FakeTokenVerifier
from roomcast.adapters.jwks_keys import JwksCache, file_loader
from roomcast.adapters.jwks_verifier import JwksVerifier
from roomcast.adapters.jwt_claims import ClaimRules
from roomcast.adapters.jwt_verifier import JwtVerifier
from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import UserId
from tests.support.identity import SigningKey, ec_key, rsa_key, write_jwks

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


def signed(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode({"exp": int(time.time()) + 300, **claims}, secret, algorithm=algorithm)


class FakeIssuer:
    def __init__(self) -> None:
        self.verifier = FakeTokenVerifier()

    def token_for(self, user: str) -> str:
        return self.verifier.issue(f"token-of-{user}", user)


class JwtIssuer:
    def __init__(self) -> None:
        self.verifier = JwtVerifier(SECRET)

    def token_for(self, user: str) -> str:
        return signed({"sub": user})


class JwksIssuer:
    def __init__(self, key: SigningKey, path: Path) -> None:
        self.key = key
        self.verifier = JwksVerifier(JwksCache(file_loader(write_jwks(path, key))), ClaimRules())

    def token_for(self, user: str) -> str:
        return self.key.sign({"sub": user})


@pytest.fixture(params=["fake", "jwt", "jwks-rs256", "jwks-es256"])
def issuer(request, tmp_path):
    if request.param.startswith("jwks"):
        key = rsa_key() if request.param.endswith("rs256") else ec_key()
        return JwksIssuer(key, tmp_path / "jwks.json")
    return {"fake": FakeIssuer, "jwt": JwtIssuer}[request.param]()


class TestVerifierContract:
    def test_a_token_it_issued_proves_its_user(self, issuer):
        assert issuer.verifier.verify(issuer.token_for("alice")) == UserId("alice")

    def test_a_made_up_token_is_refused(self, issuer):
        with pytest.raises(Unauthorized):
            issuer.verifier.verify("made-up")

    def test_a_tampered_token_is_refused(self, issuer):
        token = issuer.token_for("alice")
        with pytest.raises(Unauthorized):
            issuer.verifier.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))


class TestJwtVerifier:
    def test_an_expired_token_is_refused(self):
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) - 120}, SECRET)
        with pytest.raises(Unauthorized, match="expired"):
            JwtVerifier(SECRET).verify(token)

    def test_a_token_without_expiry_is_refused(self):
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET).verify(jwt.encode({"sub": "alice"}, SECRET))

    def test_a_token_without_subject_is_refused(self):
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET).verify(signed({}))

    @pytest.mark.parametrize(
        "claims",
        [
            {"exp": str(int(time.time()) + 300)},
            {"exp": True},
            {"nbf": str(int(time.time()) - 10)},
            {"iat": str(int(time.time()))},
            {"sub": 42},
        ],
        ids=["string-exp", "boolean-exp", "string-nbf", "string-iat", "numeric-sub"],
    )
    def test_registered_claims_of_the_wrong_type_are_refused(self, claims):
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 300, **claims}, SECRET)
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET).verify(token)

    def test_numeric_dates_may_be_fractional(self):
        token = jwt.encode({"sub": "alice", "exp": time.time() + 300.5, "iat": time.time()}, SECRET)
        assert JwtVerifier(SECRET).verify(token) == UserId("alice")

    def test_a_token_signed_with_another_secret_is_refused(self):
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET).verify(signed({"sub": "alice"}, secret="x" * 40))

    def test_an_unsigned_token_is_refused(self):
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET).verify(signed({"sub": "alice"}, secret="", algorithm="none"))

    def test_audience_and_issuer_are_checked_when_configured(self):
        verifier = JwtVerifier(SECRET, audience="roomcast", issuer="https://auth.example")
        good = signed({"sub": "alice", "aud": "roomcast", "iss": "https://auth.example"})
        assert verifier.verify(good) == UserId("alice")
        with pytest.raises(Unauthorized):
            verifier.verify(signed({"sub": "alice", "aud": "other", "iss": "https://auth.example"}))

    def test_an_audience_in_the_token_is_ignored_when_none_is_configured(self):
        token = signed({"sub": "alice", "aud": "some-other-app"})
        assert JwtVerifier(SECRET).verify(token) == UserId("alice")

    def test_clock_skew_up_to_the_leeway_is_forgiven_and_no_more(self):
        now = int(time.time())
        just_expired = jwt.encode({"sub": "alice", "exp": now - 5}, SECRET)
        assert JwtVerifier(SECRET, leeway_seconds=30).verify(just_expired) == UserId("alice")
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET, leeway_seconds=0).verify(just_expired)

    def test_an_empty_secret_is_a_configuration_error(self):
        with pytest.raises(ValueError):
            JwtVerifier("")
