"""`roomcast token`: tokens the verifiers accept, and clear refusals for what cannot be signed."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from roomcast.adapters.jwks_keys import JwksCache, file_loader
from roomcast.adapters.jwks_verifier import JwksVerifier
from roomcast.adapters.jwt_claims import ClaimRules
from roomcast.adapters.jwt_verifier import JwtVerifier
from roomcast.domain.access import may_join, may_send, parse_grant
from roomcast.domain.model import RoomId, UserId, Verified
from roomcast.entrypoints.cli.main import main
from tests.support.identity import SigningKey, ec_key, rsa_key

SECRET = "a-local-development-secret-of-32-bytes!"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["token", *argv])
    captured = capsys.readouterr()
    return status, captured.out.strip(), captured.err


def pem_file(tmp_path: Path, key: SigningKey) -> Path:
    path = tmp_path / f"{key.kid}.pem"
    path.write_bytes(key.private_pem())
    return path


class TestTokenCommand:
    def test_an_hs256_token_proves_its_subject_and_expires_after_the_ttl(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status, token, _ = run(["--sub", "alice", "--secret", SECRET, "--ttl", "120"], capsys)
        assert status == 0
        assert JwtVerifier(SECRET).verify(token) == Verified(UserId("alice"))
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
        assert claims["exp"] - time.time() == pytest.approx(120, abs=5)

    def test_the_secret_defaults_to_the_environments(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ROOMCAST_JWT_SECRET", SECRET)
        monkeypatch.setenv("ROOMCAST_JWT_ISSUER", "https://auth.example")
        status, token, _ = run(["--sub", "bob"], capsys)
        verifier = JwtVerifier(SECRET, issuer="https://auth.example")
        assert (status, verifier.verify(token)) == (0, Verified(UserId("bob")))

    @pytest.mark.parametrize("key", [rsa_key("k-rsa"), ec_key("k-ec")], ids=["RS256", "ES256"])
    def test_a_private_key_signs_and_its_jwks_verifies(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, key: SigningKey
    ) -> None:
        jwks_path = tmp_path / "jwks.json"
        argv = ["--sub", "carol", "--key", str(pem_file(tmp_path, key)), "--kid", key.kid,
                "--jwks", str(jwks_path), "--aud", "roomcast"]
        status, token, _ = run(argv, capsys)
        assert status == 0
        assert jwt.get_unverified_header(token)["alg"] == key.algorithm
        verifier = JwksVerifier(JwksCache(file_loader(jwks_path)), ClaimRules(audience="roomcast"))
        assert verifier.verify(token) == Verified(UserId("carol"))

    def test_what_cannot_be_signed_exits_2_saying_why(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.delenv("ROOMCAST_JWT_SECRET", raising=False)
        small = SigningKey("small", "RS256", rsa.generate_private_key(65537, 1024))
        refusals = {
            "--secret must be at least 32 bytes": ["--sub", "a", "--secret", "short"],
            "--sub: Invalid userId": ["--sub", "alice\u202e", "--secret", SECRET],
            "give --secret": ["--sub", "alice"],
            "--key needs --kid": ["--sub", "a", "--key", str(pem_file(tmp_path, rsa_key()))],
            "RSA key of 2048\\+ bits": [
                "--sub", "a", "--key", str(pem_file(tmp_path, small)), "--kid", "small"],
            "--ttl must be at least": ["--sub", "a", "--secret", SECRET, "--ttl", "0"],
        }
        for message, argv in refusals.items():
            status, token, error = run(argv, capsys)
            assert (status, token) == (2, ""), message
            assert re.search(message, error), error


class TestRooms:
    def grant_of(self, token: str) -> Any:
        verified = JwtVerifier(SECRET).verify(token)
        return parse_grant(verified.rooms)

    def test_each_room_adds_to_the_rooms_claim_the_verifier_hands_over(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["--sub", "alice", "--secret", SECRET,
                "--room", "team-a=join,send", "--room", "news-*=join"]
        status, token, _ = run(argv, capsys)
        assert status == 0
        assert jwt.decode(token, SECRET, algorithms=["HS256"])["rooms"] == {
            "news-*": ["join"], "team-a": ["join", "send"]}
        grant = self.grant_of(token)
        assert may_send(grant, RoomId("team-a")) and may_join(grant, RoomId("news-today"))
        assert not may_send(grant, RoomId("news-today"))

    def test_without_a_room_there_is_no_claim(self, capsys: pytest.CaptureFixture[str]) -> None:
        _, token, _ = run(["--sub", "alice", "--secret", SECRET], capsys)
        assert "rooms" not in jwt.decode(token, SECRET, algorithms=["HS256"])

    def test_a_pattern_given_twice_adds_up_and_spaces_are_ignored(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["--sub", "a", "--secret", SECRET, "--room", "*=join", "--room", "* = send, join"]
        _, token, _ = run(argv, capsys)
        assert jwt.decode(token, SECRET, algorithms=["HS256"])["rooms"] == {"*": ["join", "send"]}

    def test_a_private_key_signs_the_claim_too(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        key, jwks_path = ec_key("k-rooms"), tmp_path / "jwks.json"
        argv = ["--sub", "carol", "--key", str(pem_file(tmp_path, key)), "--kid", key.kid,
                "--jwks", str(jwks_path), "--room", "vault=join"]
        _, token, _ = run(argv, capsys)
        verifier = JwksVerifier(JwksCache(file_loader(jwks_path)), ClaimRules())
        assert verifier.verify(token).rooms == {"vault": ["join"]}

    @pytest.mark.parametrize(
        ("room", "message"),
        [("team-a", "write PATTERN=PERMISSIONS"), ("team-a=", "write PATTERN=PERMISSIONS"),
         ("team a=join", "neither a room id"), ("team-a=join,admin", "list of permissions"),
         ("te*am=join", "neither a room id")],
    )
    def test_what_roomcast_would_refuse_is_not_signed(
        self, capsys: pytest.CaptureFixture[str], room: str, message: str
    ) -> None:
        status, token, error = run(["--sub", "a", "--secret", SECRET, "--room", room], capsys)
        assert (status, token) == (2, "")
        assert message in error and error.startswith("roomcast token: --room")
