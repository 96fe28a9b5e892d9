"""One rule for user ids, wherever they come from."""

from __future__ import annotations

import pytest

from roomcast.adapters.fake_verifier import FakeTokenVerifier
from roomcast.domain.errors import InvalidUserId, Unauthorized
from roomcast.domain.identity import Identity, identify
from roomcast.domain.model import MAX_USER_ID_BYTES, UserId, Verified, valid_user_id

ACCEPTED = {
    "ascii": "alice",
    "accents and spaces": "Zoë Saldaña",
    "cjk": "山田太郎",
    "emoji": "🦊",
    "128 bytes": "é" * 64,
    "anonymous": "anonymous",
}

REFUSED = {
    "empty": "",
    "129 bytes": "a" * 127 + "é",
    "5000 characters": "x" * 5000,
    "NUL": "ali\x00ce",
    "newline": "alice\nbob",
    "escape": "\x1b[31malice",
    "DEL": "alice\x7f",
    "C1 control": "alice\x85",
    "right-to-left override": "alice\u202etxt.exe",
    "zero-width space": "ali\u200bce",
    "byte order mark": "\ufeffalice",
    "lone low surrogate": "\udc80",
    "lone high surrogate": "alice\ud83e",
}


class TestUserIdRule:
    @pytest.mark.parametrize("value", ACCEPTED.values(), ids=ACCEPTED.keys())
    def test_a_printable_id_of_at_most_128_bytes_is_accepted(self, value):
        assert valid_user_id(value) == UserId(value)

    @pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
    def test_an_id_breaking_the_rule_is_refused(self, value):
        with pytest.raises(InvalidUserId):
            valid_user_id(value)

    def test_the_limit_counts_utf8_bytes_not_characters(self):
        assert len(("é" * 64).encode()) == MAX_USER_ID_BYTES
        with pytest.raises(InvalidUserId):
            valid_user_id("é" * 65)


class TestIdentify:
    """Which source names the user: an authorizer, else a token when verifying, else the claim."""

    VERIFIER = FakeTokenVerifier({"t-bob": "bob", "t-bad": "bob\nby"})

    def test_an_authorizers_user_wins_over_token_and_claim(self):
        ann = Verified(UserId("ann"))
        assert identify(self.VERIFIER, UserId("eve"), "t-bob", ann) == Identity(UserId("ann"))

    def test_with_a_verifier_the_token_wins_over_the_claim(self):
        assert identify(self.VERIFIER, UserId("eve"), "t-bob", None) == Identity(UserId("bob"))

    @pytest.mark.parametrize("token", [None, "", "t-unknown"])
    def test_with_a_verifier_no_valid_token_is_unauthorized(self, token):
        with pytest.raises(Unauthorized):
            identify(self.VERIFIER, UserId("eve"), token, None)

    def test_without_a_verifier_the_claim_is_taken_and_the_token_ignored(self):
        assert identify(None, UserId("eve"), "t-bob", None) == Identity(UserId("eve"))

    def test_a_claim_breaking_the_rule_is_an_invalid_user_id(self):
        with pytest.raises(InvalidUserId):
            identify(None, UserId("eve\n"), None, None)

    @pytest.mark.parametrize("authorized", [Verified(UserId("ann\n")), None])
    def test_a_vouched_for_id_breaking_the_rule_is_unauthorized(self, authorized):
        token = None if authorized else "t-bad"
        with pytest.raises(Unauthorized):
            identify(self.VERIFIER, UserId("eve"), token, authorized)
