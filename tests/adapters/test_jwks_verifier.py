"""JwksVerifier: RS256/ES256 tokens from a JWKS file or URL, keys pinned, rotation bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from roomcast.adapters.jwks_keys import (
    JwksCache,
    JwksUnavailable,
    file_loader,
    parse_jwks,
    url_loader,
)
from roomcast.adapters.jwks_verifier import JwksVerifier
from roomcast.adapters.jwt_claims import ClaimRules
from roomcast.domain.errors import Unauthorized
from roomcast.domain.model import UserId, Verified
from tests.support.identity import (
    CLIENT_ID,
    ISSUER,
    JwksServer,
    SigningKey,
    alg_none_token,
    ec_key,
    hs256_with_public_key,
    jwks,
    rsa_key,
    write_jwks,
)

ALICE = Verified(UserId("alice"))  # a token with no rooms claim proves alice alone

RSA, EC = rsa_key("rsa-1"), ec_key("ec-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier_over(path: Path, rules: ClaimRules | None = None) -> JwksVerifier:
    return JwksVerifier(JwksCache(file_loader(path)), rules or ClaimRules())


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    return write_jwks(tmp_path / "jwks.json", RSA, EC)


class TestSignatures:
    @pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
    def test_a_token_signed_by_a_published_key_proves_its_subject(
        self, jwks_file: Path, key: SigningKey
    ) -> None:
        assert verifier_over(jwks_file).verify(key.sign({"sub": "alice"})) == ALICE

    def test_alg_none_is_refused(self, jwks_file: Path) -> None:
        with pytest.raises(Unauthorized, match="RS256 only"):
            verifier_over(jwks_file).verify(alg_none_token(RSA.kid, {"sub": "alice"}))

    def test_hs256_keyed_with_the_published_rsa_key_is_refused(self, jwks_file: Path) -> None:
        with pytest.raises(Unauthorized, match="RS256 only"):
            verifier_over(jwks_file).verify(hs256_with_public_key(RSA, {"sub": "alice"}))

    def test_a_key_signs_only_its_own_algorithm(self, jwks_file: Path) -> None:
        impostor = SigningKey(EC.kid, "RS256", RSA.private_key)  # EC's kid, RSA's signature
        with pytest.raises(Unauthorized, match="ES256 only"):
            verifier_over(jwks_file).verify(impostor.sign({"sub": "alice"}))

    def test_a_token_signed_by_an_unpublished_key_with_a_published_kid_is_refused(
        self, jwks_file: Path
    ) -> None:
        stranger = SigningKey(RSA.kid, "RS256", rsa_key().private_key)
        with pytest.raises(Unauthorized, match="Signature verification failed"):
            verifier_over(jwks_file).verify(stranger.sign({"sub": "alice"}))

    def test_a_token_without_a_kid_is_refused(self, jwks_file: Path) -> None:
        token = RSA.sign({"sub": "alice"}, kid=None)
        with pytest.raises(Unauthorized, match="no kid"):
            verifier_over(jwks_file).verify(token)

    def test_an_unknown_kid_is_refused(self, jwks_file: Path) -> None:
        with pytest.raises(Unauthorized, match="unknown kid"):
            verifier_over(jwks_file).verify(rsa_key("rsa-9").sign({"sub": "alice"}))


class TestClaims:
    def test_an_expired_token_is_refused(self, jwks_file: Path) -> None:
        with pytest.raises(Unauthorized, match="expired"):
            verifier_over(jwks_file).verify(RSA.sign({"sub": "a", "exp": int(time.time()) - 60}))

    def test_the_issuer_is_checked(self, jwks_file: Path) -> None:
        verifier = verifier_over(jwks_file, ClaimRules(issuer=ISSUER))
        assert verifier.verify(RSA.sign({"sub": "alice", "iss": ISSUER})) == ALICE
        with pytest.raises(Unauthorized, match="issuer"):
            verifier.verify(RSA.sign({"sub": "alice", "iss": "https://evil.example"}))

    def test_the_audience_is_checked(self, jwks_file: Path) -> None:
        verifier = verifier_over(jwks_file, ClaimRules(audience="roomcast"))
        assert verifier.verify(EC.sign({"sub": "alice", "aud": "roomcast"})) == ALICE
        for token in (EC.sign({"sub": "alice", "aud": "other"}), EC.sign({"sub": "alice"})):
            with pytest.raises(Unauthorized):
                verifier.verify(token)

    def test_a_cognito_access_tokens_client_id_stands_for_the_audience(
        self, jwks_file: Path
    ) -> None:
        verifier = verifier_over(jwks_file, ClaimRules(issuer=ISSUER, client_id=CLIENT_ID))
        access = {"sub": "alice", "iss": ISSUER, "token_use": "access", "client_id": CLIENT_ID}
        id_token = {"sub": "bob", "iss": ISSUER, "token_use": "id", "aud": CLIENT_ID}
        assert verifier.verify(RSA.sign(access)) == ALICE
        assert verifier.verify(RSA.sign(id_token)) == Verified(UserId("bob"))

    @pytest.mark.parametrize(
        "claims",
        [{"client_id": "another-client"}, {}, {"aud": "another-client", "client_id": CLIENT_ID}],
        ids=["other client_id", "neither", "aud of another client"],
    )
    def test_a_token_for_another_client_is_refused(self, jwks_file: Path, claims: dict) -> None:
        verifier = verifier_over(jwks_file, ClaimRules(client_id=CLIENT_ID))
        with pytest.raises(Unauthorized, match="another client"):
            verifier.verify(RSA.sign({"sub": "alice", **claims}))


class TestKeySet:
    def test_keys_that_cannot_be_pinned_to_rs256_or_es256_are_left_out(self) -> None:
        small = SigningKey("small", "RS256", rsa.generate_private_key(65537, 1024))
        document = jwks(RSA, EC, small)
        document["keys"] += [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {**RSA.public_jwk(), "kid": "enc", "use": "enc"},
            {**RSA.public_jwk(), "kid": "ps", "alg": "PS256"},
            {**RSA.public_jwk(), "kid": ""},
        ]
        assert set(parse_jwks(document)) == {"rsa-1", "ec-1"}

    def test_a_new_kid_reloads_the_set_once_and_no_more_than_the_refresh_rate(self) -> None:
        issuer, rotated, clock = JwksServer(RSA), rsa_key("rsa-2"), Clock()
        with issuer.running():
            cache = JwksCache(url_loader(issuer.url), min_refresh_seconds=60, monotonic=clock)
            verifier = JwksVerifier(cache, ClaimRules())
            assert verifier.verify(RSA.sign({"sub": "alice"})) == ALICE
            issuer.document = jwks(RSA, rotated)
            clock.now += 61
            assert verifier.verify(rotated.sign({"sub": "bob"})) == Verified(UserId("bob"))
            assert issuer.fetches == 2
            clock.now += 61
            for kid in ("made-up-1", "made-up-2"):
                with pytest.raises(Unauthorized, match="unknown kid"):
                    verifier.verify(rsa_key(kid).sign({"sub": "mallory"}))
            assert issuer.fetches == 3  # one reload for both made-up kids, a minute on
            clock.now += 30
            with pytest.raises(Unauthorized, match="unknown kid"):
                verifier.verify(rsa_key("made-up-3").sign({"sub": "mallory"}))
            assert issuer.fetches == 3
            clock.now += 31
            with pytest.raises(Unauthorized, match="unknown kid"):
                verifier.verify(rsa_key("made-up-4").sign({"sub": "mallory"}))
            assert issuer.fetches == 4

    def test_a_key_removed_from_the_set_stops_working_once_the_set_is_reloaded(
        self, tmp_path: Path
    ) -> None:
        path, clock = write_jwks(tmp_path / "jwks.json", RSA, EC), Clock()
        cache = JwksCache(file_loader(path), max_age_seconds=3600, monotonic=clock)
        verifier = JwksVerifier(cache, ClaimRules())
        assert verifier.verify(EC.sign({"sub": "alice"})) == ALICE
        write_jwks(path, RSA)
        clock.now += 3600
        with pytest.raises(Unauthorized, match="unknown kid"):
            verifier.verify(EC.sign({"sub": "alice"}))

    def test_an_unreachable_issuer_is_the_servers_error_not_the_tokens(self) -> None:
        cache = JwksCache(url_loader("http://127.0.0.1:9/jwks.json", timeout_seconds=2))
        with pytest.raises(JwksUnavailable):
            JwksVerifier(cache, ClaimRules()).verify(RSA.sign({"sub": "alice"}))

    def test_a_failed_reload_keeps_the_keys_it_had(self, tmp_path: Path) -> None:
        path, clock = write_jwks(tmp_path / "jwks.json", RSA), Clock()
        verifier = JwksVerifier(JwksCache(file_loader(path), monotonic=clock), ClaimRules())
        verifier.verify(RSA.sign({"sub": "alice"}))
        path.write_text("not json", encoding="utf-8")
        clock.now += 61
        with pytest.raises(Unauthorized, match="unknown kid"):
            verifier.verify(EC.sign({"sub": "bob"}))
        assert verifier.verify(RSA.sign({"sub": "alice"})) == ALICE
