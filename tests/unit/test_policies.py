"""The pure policies, without any store."""

from __future__ import annotations

import pytest

from roomcast.domain.errors import NotInRoom
from roomcast.domain.model import Connection, ConnectionId, Membership, RoomId, UserId
from roomcast.domain.policies import Limits, decide_join, expires_at, find_member


def connection_in(**rooms: int) -> Connection:
    return Connection(
        id=ConnectionId("c"),
        user_id=UserId("u"),
        connected_at=0,
        expires_at=7200,
        rooms={RoomId(name): joined for name, joined in rooms.items()},
    )


class TestDecideJoin:
    def test_a_free_connection_joins_without_eviction(self):
        decision = decide_join(connection_in(), RoomId("a"), Limits())
        assert (decision.already_member, decision.evict) == (False, ())

    def test_at_the_limit_the_oldest_room_is_evicted(self):
        decision = decide_join(connection_in(old=1, new=2), RoomId("c"), Limits(2))
        assert decision.evict == (RoomId("old"),)

    def test_over_the_limit_enough_rooms_are_evicted_to_fit(self):
        decision = decide_join(connection_in(a=1, b=2, c=3), RoomId("d"), Limits(1))
        assert decision.evict == (RoomId("a"), RoomId("b"), RoomId("c"))

    def test_a_room_already_joined_is_not_joined_again(self):
        decision = decide_join(connection_in(a=1), RoomId("a"), Limits())
        assert decision.already_member and decision.evict == ()


class TestFindMember:
    def test_finds_the_connection_among_members(self):
        member = Membership(ConnectionId("c"), RoomId("r"), UserId("u"), 0, 1)
        assert find_member([member], ConnectionId("c")) is member

    def test_a_stranger_is_not_in_the_room(self):
        with pytest.raises(NotInRoom):
            find_member([], ConnectionId("c"))


def test_expiry_is_connected_at_plus_the_ttl_in_seconds():
    assert expires_at(1_000_500, Limits(connection_ttl_seconds=60)) == 1_000 + 60


class TestExpiry:
    """`expires_at` is in epoch seconds, the clock in milliseconds."""

    @pytest.mark.parametrize(("now_ms", "expired"), [
        (1_059_999, False), (1_060_000, True), (1_060_001, True),
    ])
    def test_a_connection_and_its_memberships_expire_at_expires_at(self, now_ms, expired):
        connection = Connection(ConnectionId("c"), UserId("u"), 0, expires_at=1_060)
        membership = Membership(ConnectionId("c"), RoomId("r"), UserId("u"), 0, 1_060)
        assert connection.is_expired(now_ms) is membership.is_expired(now_ms) is expired


class TestUnannouncedRooms:
    def test_a_joined_room_is_unannounced_until_announced(self):
        joined = connection_in(games=1).joining(RoomId("lobby"), 2, evict=[RoomId("games")])
        assert list(joined.rooms) == [RoomId("lobby")]
        assert joined.is_unannounced_in(RoomId("lobby"))
        announced = joined.announced(RoomId("lobby"))
        assert not announced.is_unannounced_in(RoomId("lobby"))
        assert announced.version == joined.version + 1

    def test_an_evicted_room_awaits_its_departure_until_announced(self):
        joined = connection_in(games=1).joining(RoomId("lobby"), 2, evict=[RoomId("games")])
        assert joined.unannounced_departures == {RoomId("games")}
        announced = joined.announced(RoomId("lobby"), [RoomId("games")])
        assert announced.unannounced_departures == frozenset()

    def test_rejoining_a_room_whose_departure_was_not_announced_cancels_it(self):
        joined = connection_in(games=1).joining(RoomId("lobby"), 2, evict=[RoomId("games")])
        back = joined.joining(RoomId("games"), 3, evict=[RoomId("lobby")])
        assert back.unannounced_departures == {RoomId("lobby")}

    def test_a_room_left_is_no_longer_unannounced(self):
        joined = connection_in().joining(RoomId("lobby"), 2)
        assert joined.leaving(RoomId("lobby")).unannounced == frozenset()
