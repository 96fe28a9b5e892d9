"""Who may enter which room: grants read from a `rooms` claim, and the policy that decides."""

from __future__ import annotations

import pytest

from roomcast.domain.access import (
    MAX_GRANT_ENTRIES,
    RoomAccess,
    check_join,
    check_send,
    may_join,
    may_send,
    parse_grant,
    parse_grant_json,
)
from roomcast.domain.errors import InvalidGrant, NotAllowed
from roomcast.domain.model import (
    NO_GRANT,
    NOTHING,
    Connection,
    ConnectionId,
    Membership,
    Permission,
    RoomId,
    UserId,
)

JOIN, SEND = Permission.JOIN, Permission.SEND


def room(name: str) -> RoomId:
    return RoomId(name)


def joins(claim: object, name: str) -> bool:
    return may_join(parse_grant(claim), room(name))


def sends(claim: object, name: str) -> bool:
    return may_send(parse_grant(claim), room(name))


class TestExactRoomIds:
    def test_a_room_id_grants_that_room_and_no_other(self):
        claim = {"team-a": ["join", "send"]}
        assert (joins(claim, "team-a"), sends(claim, "team-a")) == (True, True)
        for other in ("team-ab", "team-", "Team-a", "team-b", "a"):
            assert not joins(claim, other), other

    def test_join_alone_lets_a_connection_in_but_not_speak(self):
        claim = {"news": ["join"]}
        assert (joins(claim, "news"), sends(claim, "news")) == (True, False)

    def test_send_alone_grants_nothing_usable(self):
        claim = {"news": ["send"]}
        assert (joins(claim, "news"), sends(claim, "news")) == (False, False)

    @pytest.mark.parametrize("name", ["a", "x" * 128, "with:colons.and_under-scores"])
    def test_any_valid_room_id_may_be_granted(self, name):
        assert joins({name: ["join"]}, name)


class TestPrefixes:
    def test_a_prefix_grants_every_room_it_begins(self):
        claim = {"team-*": ["join"]}
        for granted in ("team-a", "team-", "team-:x", "team-" + "z" * 123):
            assert joins(claim, granted), granted
        for refused in ("team", "teams", "a-team-a", "TEAM-a"):
            assert not joins(claim, refused), refused

    def test_a_star_alone_is_every_room(self):
        for name in ("a", "team-a", "x" * 128):
            assert sends({"*": ["join", "send"]}, name)

    def test_a_prefix_may_be_a_whole_room_id_long(self):
        prefix = "p" * 128
        assert joins({prefix + "*": ["join"]}, prefix)


class TestEntriesAddUp:
    def test_matching_entries_add_their_permissions(self):
        claim = {"*": ["join"], "team-*": ["send"]}
        assert sends(claim, "team-a")
        assert (joins(claim, "lobby"), sends(claim, "lobby")) == (True, False)

    def test_an_exact_id_and_a_prefix_add_up(self):
        claim = {"team-a": ["send"], "team-*": ["join"]}
        assert sends(claim, "team-a") and not sends(claim, "team-b")

    def test_repeated_permissions_and_empty_lists_change_nothing(self):
        assert parse_grant({"a": ["join", "join"], "b": []}) == parse_grant({"a": ["join"]})

    def test_an_empty_claim_grants_nothing(self):
        assert parse_grant({}) == NO_GRANT
        assert not joins({}, "a")


class TestMalformedClaims:
    @pytest.mark.parametrize(
        "claim",
        [None, "team-a", ["team-a"], 7, True, [["team-a", ["join"]]]],
        ids=["null", "string", "list", "number", "boolean", "pairs"],
    )
    def test_a_claim_that_is_not_an_object_is_invalid(self, claim):
        with pytest.raises(InvalidGrant, match="must be an object"):
            parse_grant(claim)

    @pytest.mark.parametrize(
        "permissions",
        ["join", None, {"join": True}, ["join", "admin"], ["JOIN"], [1], ["join,send"]],
        ids=["string", "null", "object", "unknown", "capitals", "number", "joined"],
    )
    def test_permissions_must_be_a_list_of_join_and_send(self, permissions):
        with pytest.raises(InvalidGrant, match="list of permissions"):
            parse_grant({"team-a": permissions})

    @pytest.mark.parametrize(
        "pattern",
        ["", "team a", "team-**", "*team", "te*am", "**", "x" * 129, "x" * 129 + "*", "é",
         "team/a", "team\n", "*-a"],
    )
    def test_a_pattern_breaking_the_room_id_rule_is_invalid(self, pattern):
        with pytest.raises(InvalidGrant, match="neither a room id"):
            parse_grant({pattern: ["join"]})

    def test_one_bad_entry_spoils_the_claim(self):
        with pytest.raises(InvalidGrant):
            parse_grant({"team-a": ["join"], "bad room": ["join"]})

    def test_more_than_the_most_entries_is_invalid(self):
        many = {f"room-{i}": ["join"] for i in range(MAX_GRANT_ENTRIES)}
        assert len(parse_grant(many).entries) == MAX_GRANT_ENTRIES
        with pytest.raises(InvalidGrant, match="at most"):
            parse_grant({**many, "one-more": ["join"]})

    def test_the_message_escapes_what_it_quotes(self):
        with pytest.raises(InvalidGrant) as refused:
            parse_grant({"bad\u202eroom": ["join"]})
        assert "\u202e" not in refused.value.message


class TestTheGrantAsAClaim:
    def test_a_grant_reads_back_from_its_claim_and_its_json(self):
        grant = parse_grant({"team-*": ["send", "join"], "news": ["join"], "x": []})
        assert grant.as_claim() == {"news": ["join"], "team-*": ["join", "send"]}
        assert parse_grant(grant.as_claim()) == grant
        assert parse_grant_json(grant.as_json()) == grant
        assert grant.as_json() == '{"news":["join"],"team-*":["join","send"]}'

    def test_grants_giving_the_same_are_equal_whatever_their_order(self):
        assert parse_grant({"a": ["join"], "b": ["send", "join"]}) == parse_grant(
            {"b": ["join", "send"], "a": ["join"]}
        )

    @pytest.mark.parametrize("text", [None, 1, {"a": ["join"]}, "", "{", "[]", '"a"'])
    def test_a_json_grant_must_be_a_string_holding_a_claim(self, text):
        with pytest.raises(InvalidGrant):
            parse_grant_json(text)

    def test_no_grant_is_falsy_and_a_grant_is_not(self):
        assert not NO_GRANT and parse_grant({"a": ["join"]})


class TestThePolicy:
    GRANT = parse_grant({"team-a": ["join", "send"], "news-*": ["join"]})

    def member(self, permissions: frozenset[Permission]) -> Membership:
        return Membership(ConnectionId("c"), room("r"), UserId("u"), 0, 9, permissions)

    def test_open_access_lets_every_connection_join_and_send_anywhere(self):
        check_join(RoomAccess.OPEN, NO_GRANT, room("anything"))
        check_send(RoomAccess.OPEN, self.member(NOTHING))

    def test_token_access_lets_in_only_what_the_grant_gives(self):
        check_join(RoomAccess.TOKEN, self.GRANT, room("team-a"))
        check_join(RoomAccess.TOKEN, self.GRANT, room("news-today"))
        for refused in ("team-b", "news", "general"):
            with pytest.raises(NotAllowed):
                check_join(RoomAccess.TOKEN, self.GRANT, room(refused))

    def test_token_access_without_a_grant_reaches_no_room(self):
        with pytest.raises(NotAllowed):
            check_join(RoomAccess.TOKEN, NO_GRANT, room("general"))

    def test_a_send_takes_both_permissions_on_the_membership(self):
        check_send(RoomAccess.TOKEN, self.member(frozenset({JOIN, SEND})))
        for given in (frozenset({JOIN}), NOTHING):
            with pytest.raises(NotAllowed):
                check_send(RoomAccess.TOKEN, self.member(given))

    def test_not_allowed_is_a_403_saying_so(self):
        refused = NotAllowed()
        assert (refused.status_code, refused.message) == (403, "Not allowed in this room")

    def test_a_membership_keeps_what_the_grant_gave_in_its_room(self):
        connection = Connection(ConnectionId("c"), UserId("u"), 0, 9, grant=self.GRANT)
        joined = connection.joining(room("news-1"), 5)
        assert joined.membership(room("news-1")).permissions == {JOIN}
        assert joined.joining(room("team-a"), 6).membership(room("team-a")).permissions == {
            JOIN, SEND}
