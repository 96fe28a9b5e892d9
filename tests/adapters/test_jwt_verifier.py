"""JwtVerifier (HS256): what JWTs can get wrong, and the claims it checks when configured."""

from __future__ import annotations

import time

import jwt
import pytest

from roomcast.adapters.jwt_verifier import JwtVerifier
from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import UserId, Verified
from tests.support.identity import HS256_SECRET as SECRET
from tests.support.identity import hs256_signed as signed

ALICE = Verified(UserId("alice"))  # a token with no rooms claim proves alice alone


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
        assert JwtVerifier(SECRET).verify(token) == ALICE

    def test_a_token_signed_with_another_secret_is_refused(self):
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET).verify(signed({"sub": "alice"}, secret="x" * 40))

    def test_an_unsigned_token_is_refused(self):
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET).verify(signed({"sub": "alice"}, secret="", algorithm="none"))

    def test_audience_and_issuer_are_checked_when_configured(self):
        verifier = JwtVerifier(SECRET, audience="roomcast", issuer="https://auth.example")
        good = signed({"sub": "alice", "aud": "roomcast", "iss": "https://auth.example"})
        assert verifier.verify(good) == ALICE
        with pytest.raises(Unauthorized):
            verifier.verify(signed({"sub": "alice", "aud": "other", "iss": "https://auth.example"}))

    def test_an_audience_in_the_token_is_ignored_when_none_is_configured(self):
        token = signed({"sub": "alice", "aud": "some-other-app"})
        assert JwtVerifier(SECRET).verify(token) == ALICE

    def test_clock_skew_up_to_the_leeway_is_forgiven_and_no_more(self):
        now = int(time.time())
        just_expired = jwt.encode({"sub": "alice", "exp": now - 5}, SECRET)
        assert JwtVerifier(SECRET, leeway_seconds=30).verify(just_expired) == ALICE
        with pytest.raises(Unauthorized):
            JwtVerifier(SECRET, leeway_seconds=0).verify(just_expired)

    def test_an_empty_secret_is_a_configuration_error(self):
        with pytest.raises(ValueError):
            JwtVerifier("")
