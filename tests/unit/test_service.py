"""The chat service's use cases, driven through the in-memory store and the fake notifier."""

from __future__ import annotations

import pytest

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.fake_verifier import FakeTokenVerifier
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain.errors import FailureKind, InvalidUserId, Unauthorized
from roomcast.domain.model import ConnectionId, RoomId, UserId
from roomcast.domain.policies import Limits
from roomcast.domain.service import ChatService
from tests.unit.chat import Chat

NOW = 1_700_000_000_000


def service_over(store, notifier, clock, limits=None, **options) -> ChatService:
    return ChatService(store, notifier, clock, limits, log=InMemoryRoomLog(clock), **options)


class TestConnect:
    def test_stores_the_connection_with_a_two_hour_expiry(self, chat, memory_store):
        alice = chat.connect("alice")
        stored = memory_store.get(alice)
        assert stored.user_id == UserId("alice")
        assert stored.connected_at == NOW
        assert stored.expires_at == NOW // 1000 + 2 * 60 * 60
        assert (stored.source_ip, stored.user_agent) == ("127.0.0.1", "pytest")

    def test_never_posts_to_the_connecting_client(self, chat):
        alice = chat.connect("alice")
        assert chat.frames(alice) == []


class TestJoinRoom:
    def test_the_joiner_appears_in_members(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        reply = chat.join(bob, "lobby")
        assert reply.status_code == 200
        assert chat.last(bob) == {
            "action": "joinedRoom", "roomId": "lobby", "memberCount": 2,
            "members": ["alice", "bob"], "userId": "bob", "seq": 0, "epoch": chat.service.log.epoch,
        }

    def test_others_get_user_joined_and_the_joiner_does_not(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        assert chat.last(alice) == {
            "action": "userJoined", "roomId": "lobby", "userId": "bob", "timestamp": NOW,
        }
        assert "userJoined" not in chat.actions(bob)

    def test_a_second_join_at_the_limit_leaves_the_oldest_room_announced(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        chat.forget_frames()
        chat.join(bob, "games")
        assert chat.frames(alice) == [
            {"action": "userLeft", "roomId": "lobby", "userId": "bob", "timestamp": NOW},
        ]
        assert chat.frames(bob) == [
            {"action": "leftRoom", "roomId": "lobby"},
            {"action": "joinedRoom", "roomId": "games", "memberCount": 1, "members": ["bob"],
             "userId": "bob", "seq": 0, "epoch": chat.service.log.epoch},
        ]

    def test_a_raised_room_limit_keeps_several_rooms(self, memory_store, fake_notifier, clock):
        chat = Chat(
            service_over(memory_store, fake_notifier, clock, Limits(max_rooms_per_connection=2)),
            fake_notifier,
        )
        alice = chat.connect("alice")
        for room in ("lobby", "games", "music"):
            chat.join(alice, room)
            clock.advance(ms=1)
        assert set(memory_store.get(alice).rooms) == {RoomId("games"), RoomId("music")}

    def test_joining_a_room_again_tells_nobody_else(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        chat.forget_frames()
        chat.join(bob, "lobby")
        assert chat.frames(alice) == []
        assert chat.actions(bob) == ["joinedRoom"]

    def test_an_unknown_connection_cannot_join(self, chat):
        reply = chat.join(ConnectionId("ghost"), "lobby")
        assert (reply.status_code, reply.body) == (400, "Not connected")

    def test_an_invalid_room_id_is_refused(self, chat):
        alice = chat.connect("alice")
        reply = chat.join(alice, "no spaces allowed")
        assert reply.status_code == 400
        assert chat.last(alice)["message"].startswith("Invalid roomId")


class TestLeaveRoom:
    def test_remaining_members_get_user_left_and_the_leaver_left_room(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        chat.forget_frames()
        reply = chat.leave(bob, "lobby")
        assert reply.status_code == 200
        assert chat.frames(alice) == [
            {"action": "userLeft", "roomId": "lobby", "userId": "bob", "timestamp": NOW},
        ]
        assert chat.frames(bob) == [{"action": "leftRoom", "roomId": "lobby"}]

    def test_leaving_honours_the_room_id_given(self, chat, memory_store, fake_notifier, clock):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        reply = chat.leave(alice, "games")
        assert (reply.status_code, reply.body) == (400, "Not in room")
        assert memory_store.get(alice).in_room(RoomId("lobby"))

    def test_a_member_who_left_receives_no_more_messages(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        chat.leave(bob, "lobby")
        chat.forget_frames()
        chat.send(alice, "lobby", "anyone?")
        assert chat.frames(bob) == []


class TestSendMessage:
    def test_every_member_including_the_sender_gets_the_message(self, chat):
        alice, bob, carol = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
        for person in (alice, bob, carol):
            chat.join(person, "lobby")
        chat.forget_frames()
        reply = chat.send(bob, "lobby", "hello")
        expected = {
            "action": "message", "roomId": "lobby", "message": "hello",
            "sender": "bob", "timestamp": NOW, "seq": 1,
        }
        assert reply.status_code == 200
        for person in (alice, bob, carol):
            assert chat.frames(person) == [expected]

    def test_the_sender_name_comes_from_the_store_not_the_frame(self, chat):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.say(alice, action="sendMessage", roomId="lobby", message="hi", sender="mallory")
        assert chat.last(alice)["sender"] == "alice"

    def test_sending_to_a_room_you_are_not_in_is_refused(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.forget_frames()
        reply = chat.send(bob, "lobby", "let me in")
        assert (reply.status_code, reply.body) == (400, "Not in room")
        assert chat.frames(alice) == []
        assert chat.frames(bob) == [{"action": "error", "message": "Not in room", "timestamp": NOW}]

    def test_rooms_do_not_leak_into_each_other(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "games")
        chat.forget_frames()
        chat.send(alice, "lobby", "only lobby")
        assert chat.frames(bob) == []


class TestPing:
    def test_ping_answers_pong_with_a_timestamp(self, chat):
        alice = chat.connect("alice")
        reply = chat.say(alice, action="ping")
        assert reply.status_code == 200
        assert chat.frames(alice) == [{"action": "pong", "timestamp": NOW}]


class TestDisconnect:
    def test_sends_user_left_on_disconnect(self, chat, service, memory_store):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        chat.forget_frames()
        service.disconnect(bob)
        assert chat.frames(alice) == [
            {"action": "userLeft", "roomId": "lobby", "userId": "bob", "timestamp": NOW},
        ]
        assert memory_store.get(bob) is None
        assert [m.user_id for m in memory_store.members(RoomId("lobby"))] == [UserId("alice")]

    def test_disconnecting_an_unknown_connection_is_harmless(self, chat, service, memory_store):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.forget_frames()
        service.disconnect(ConnectionId("ghost"))
        assert chat.frames(alice) == []
        assert [c.id for c in memory_store.connections()] == [alice]


class TestGoneDuringFanout:
    def test_a_gone_member_is_removed_and_its_room_told(self, chat, fake_notifier, memory_store):
        alice, bob, carol = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
        for person in (alice, bob, carol):
            chat.join(person, "lobby")
        fake_notifier.mark_gone(carol)
        chat.forget_frames()
        chat.send(alice, "lobby", "still there?")
        assert memory_store.get(carol) is None
        assert chat.actions(alice) == ["message", "userLeft"]
        assert chat.last(bob) == {
            "action": "userLeft", "roomId": "lobby", "userId": "carol", "timestamp": NOW,
        }

    def test_a_failing_member_stays_and_the_others_still_receive(
        self, chat, fake_notifier, memory_store
    ):
        alice, bob, carol = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
        for person in (alice, bob, carol):
            chat.join(person, "lobby")
        fake_notifier.mark_failing(carol, FailureKind.FORBIDDEN)
        chat.forget_frames()
        reply = chat.send(alice, "lobby", "hello")
        assert reply.status_code == 200
        assert chat.actions(alice) == chat.actions(bob) == ["message"]
        assert memory_store.get(carol) is not None

    def test_a_gone_sender_of_a_ping_is_removed(self, chat, fake_notifier, memory_store):
        alice = chat.connect("alice")
        fake_notifier.mark_gone(alice)
        chat.say(alice, action="ping")
        assert memory_store.get(alice) is None


class TestExpiry:
    def test_an_expired_connection_is_not_a_member(self, chat, clock, memory_store):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        clock.advance(seconds=3600)
        bob = chat.connect("bob")
        chat.join(bob, "lobby")
        clock.advance(seconds=3601)
        assert [m.user_id for m in memory_store.members(RoomId("lobby"))] == [UserId("bob")]

    def test_an_expired_connection_cannot_send(self, chat, clock):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        clock.advance(seconds=2 * 60 * 60)
        reply = chat.send(alice, "lobby", "too late")
        assert (reply.status_code, reply.body) == (400, "Not in room")


class TestSweepStale:
    def test_removes_gone_and_expired_connections_and_tells_their_rooms(
        self, chat, service, fake_notifier, clock, memory_store
    ):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        clock.advance(seconds=3600)
        carol = chat.connect("carol")
        chat.join(carol, "lobby")
        fake_notifier.mark_gone(bob)
        clock.advance(seconds=3600)
        chat.forget_frames()
        report = service.sweep_stale()
        assert report.as_dict() == {"checked": 3, "removed": 2}
        assert [c.id for c in memory_store.connections()] == [carol]
        assert sorted(f["userId"] for f in chat.frames(carol)) == ["alice", "bob"]

    def test_an_empty_store_sweeps_clean(self, service):
        assert service.sweep_stale().as_dict() == {"checked": 0, "removed": 0}


class TestStats:
    def test_counts_connections_and_members_per_room(self, chat, service):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.connect("carol")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        stats = service.stats()
        assert (stats.total_connections, dict(stats.room_counts)) == (3, {"lobby": 2})


class TestInternalErrors:
    def test_an_unexpected_failure_answers_internal_error(self, clock):
        class BrokenStore(InMemoryConnectionStore):
            def room(self, room_id):  # the member read every use case starts with
                raise RuntimeError("disk on fire")

        notifier = FakeNotifier()
        chat = Chat(service_over(BrokenStore(clock), notifier, clock), notifier)
        alice = chat.connect("alice")
        reply = chat.send(alice, "lobby", "hi")
        assert (reply.status_code, reply.body) == (500, "Internal error")
        assert chat.last(alice) == {
            "action": "error", "message": "Internal error", "timestamp": NOW,
        }


class TestConcurrentJoins:
    def test_a_join_retries_when_the_connection_changed_underneath(self, clock):
        class RacingStore(InMemoryConnectionStore):
            raced = False

            def join(self, connection, room_id, joined_at, evict=()):
                if not self.raced:
                    self.raced = True
                    super().join(self.get(connection.id), RoomId("sneaky"), joined_at)
                return super().join(connection, room_id, joined_at, evict)

        store, notifier = RacingStore(clock), FakeNotifier()
        chat = Chat(service_over(store, notifier, clock), notifier)
        alice = chat.connect("alice")
        assert chat.join(alice, "lobby").status_code == 200
        assert list(store.get(alice).rooms) == [RoomId("lobby")]
        assert chat.actions(alice) == ["leftRoom", "joinedRoom"]


class TestJoinerGoneBeforeConfirmation:
    def test_the_room_hears_the_join_before_the_departure(self, chat, fake_notifier, memory_store):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        fake_notifier.mark_gone(bob)
        chat.forget_frames()
        chat.join(bob, "lobby")
        assert chat.actions(alice) == ["userJoined", "userLeft"]
        assert memory_store.get(bob) is None


class TestErrorFrameFailures:
    def test_a_store_failure_while_dropping_a_gone_sender_still_answers(self, clock):
        class FailingRemoveStore(InMemoryConnectionStore):
            def remove(self, connection_id):
                raise RuntimeError("throttled")

        notifier = FakeNotifier()
        chat = Chat(service_over(FailingRemoveStore(clock), notifier, clock), notifier)
        alice = chat.connect("alice")
        notifier.mark_gone(alice)
        reply = chat.say(alice, action="dance")
        assert (reply.status_code, reply.body) == (400, "Unknown action: dance")


class TestAuthentication:
    @pytest.fixture
    def verifier(self):
        return FakeTokenVerifier({"alice-token": "alice"})

    @pytest.fixture
    def authenticated(self, memory_store, fake_notifier, clock, verifier):
        return service_over(memory_store, fake_notifier, clock, verifier=verifier)

    def test_the_user_comes_from_the_token_never_the_claim(self, authenticated, memory_store):
        connection = authenticated.connect(
            ConnectionId("c1"), UserId("mallory"), token="alice-token"
        )
        assert connection.user_id == UserId("alice")
        assert memory_store.get(ConnectionId("c1")).user_id == UserId("alice")

    @pytest.mark.parametrize("token", [None, "", "forged"])
    def test_a_missing_or_invalid_token_is_refused_and_nothing_stored(
        self, authenticated, memory_store, token
    ):
        with pytest.raises(Unauthorized):
            authenticated.connect(ConnectionId("c1"), UserId("alice"), token=token)
        assert memory_store.get(ConnectionId("c1")) is None

    def test_without_a_verifier_the_claim_is_taken_as_given(self, service):
        connection = service.connect(ConnectionId("c1"), UserId("bob"), token="ignored")
        assert connection.user_id == UserId("bob")

    def test_a_claimed_id_breaking_the_rule_is_refused_and_nothing_stored(
        self, service, memory_store
    ):
        with pytest.raises(InvalidUserId):
            service.connect(ConnectionId("c1"), UserId("alice\u202e"))
        assert memory_store.get(ConnectionId("c1")) is None

    def test_a_token_whose_subject_breaks_the_rule_is_unauthorized(
        self, memory_store, fake_notifier, clock
    ):
        verifier = FakeTokenVerifier({"bad-token": "\udc80"})
        authenticated = service_over(memory_store, fake_notifier, clock, verifier=verifier)
        with pytest.raises(Unauthorized):
            authenticated.connect(ConnectionId("c1"), UserId("alice"), token="bad-token")
        assert memory_store.get(ConnectionId("c1")) is None

    def test_a_user_an_authorizer_vouched_for_needs_no_token_and_beats_the_claim(
        self, authenticated
    ):
        connection = authenticated.connect(
            ConnectionId("c1"), UserId("mallory"), authorized_user_id=UserId("carol")
        )
        assert connection.user_id == UserId("carol")

    @pytest.mark.parametrize("principal", ["\udc80", "x" * 129, "carol\u202e"])
    def test_an_authorizer_identity_breaking_the_rule_is_unauthorized(
        self, service, memory_store, principal
    ):
        with pytest.raises(Unauthorized):
            service.connect(ConnectionId("c1"), authorized_user_id=UserId(principal))
        assert memory_store.get(ConnectionId("c1")) is None

    def test_with_a_verifier_a_bad_claim_is_ignored_like_any_claim(self, authenticated):
        connection = authenticated.connect(
            ConnectionId("c1"), UserId("\x00" * 200), token="alice-token"
        )
        assert connection.user_id == UserId("alice")


class TestSweepIsExact:
    def test_a_connection_still_in_its_handshake_is_not_probed(
        self, chat, service, fake_notifier, clock, memory_store
    ):
        alice = chat.connect("alice")
        fake_notifier.mark_gone(alice)  # API Gateway answers 410 until $connect returns
        clock.advance(seconds=29)
        assert service.sweep_stale().as_dict() == {"checked": 1, "removed": 0}
        clock.advance(seconds=1)
        assert service.sweep_stale().as_dict() == {"checked": 1, "removed": 1}

    def test_a_disconnect_racing_the_sweep_is_announced_once_and_not_counted(
        self, memory_store, clock
    ):
        class DisconnectWhileProbing(FakeNotifier):
            def find_gone(self, connection_ids):
                gone = super().find_gone(connection_ids)
                for connection_id in gone:
                    service.disconnect(connection_id)  # $disconnect lands mid-sweep
                return gone

        notifier = DisconnectWhileProbing()
        service = service_over(memory_store, notifier, clock)
        chat = Chat(service, notifier)
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        clock.advance(seconds=60)
        notifier.mark_gone(bob)
        chat.forget_frames()
        report = service.sweep_stale()
        assert report.as_dict() == {"checked": 2, "removed": 0}
        assert chat.actions(alice) == ["userLeft"]


class TestHousekeepingFailures:
    def test_a_send_that_reached_everyone_succeeds_even_if_removing_the_gone_fails(
        self, clock
    ):
        class FailingRemoveStore(InMemoryConnectionStore):
            def remove(self, connection_id):
                raise RuntimeError("throttled")

        notifier = FakeNotifier()
        chat = Chat(service_over(FailingRemoveStore(clock), notifier, clock), notifier)
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        notifier.mark_gone(bob)
        chat.forget_frames()
        reply = chat.send(alice, "lobby", "once only")
        assert reply.status_code == 200
        assert chat.actions(alice) == ["message"]

    def test_a_join_the_room_heard_succeeds_even_if_recording_that_fails(self, clock):
        class FailingMarkStore(InMemoryConnectionStore):
            def mark_announced(self, connection_id, room_id):
                raise RuntimeError("throttled")

        notifier = FakeNotifier()
        chat = Chat(service_over(FailingMarkStore(clock), notifier, clock), notifier)
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        reply = chat.join(bob, "lobby")
        assert reply.status_code == 200
        assert chat.actions(bob) == ["joinedRoom"]
        assert chat.actions(alice) == ["joinedRoom", "userJoined"]
