"""One rule for user ids, wherever they come from."""

from __future__ import annotations

import pytest

from roomcast.domain.errors import InvalidUserId
from roomcast.domain.model import MAX_USER_ID_BYTES, UserId, valid_user_id

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
