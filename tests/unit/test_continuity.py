"""Conversations that outlive connections: seq on every message, replay through joinRoom."""

from __future__ import annotations

import pytest

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.adapters.memory_history import InMemoryRoomLog
from roomcast.adapters.memory_store import InMemoryConnectionStore
from roomcast.domain import commands, errors
from roomcast.domain.history import Retention, replay_of
from roomcast.domain.model import Message, RoomId, UserId
from roomcast.domain.service import ChatService
from tests.unit.chat import Chat

ROOM = RoomId("lobby")


def chat_keeping(clock, retention: Retention) -> Chat:
    log = InMemoryRoomLog(clock, retention)
    notifier = FakeNotifier()
    service = ChatService(InMemoryConnectionStore(clock, log), notifier, clock, log=log)
    return Chat(service, notifier)


def messages(chat: Chat, connection_id) -> list[tuple[int, str]]:
    return [(f["seq"], f["message"]) for f in chat.frames(connection_id) if "seq" in f
            and f["action"] == "message"]


def said(seq: int) -> Message:
    return Message(ROOM, f"m{seq}", UserId("alice"), 0, seq)


class TestSinceIsParsed:
    @pytest.mark.parametrize("since", [0, 1, 10**12])
    def test_a_whole_number_is_taken(self, since):
        assert commands.parse(f'{{"action":"joinRoom","roomId":"r","since":{since}}}').since == (
            since
        )

    def test_without_since_there_is_none(self):
        assert commands.parse('{"action":"joinRoom","roomId":"r"}').since is None

    @pytest.mark.parametrize("since", ["-1", "1.5", '"3"', "true", "null", "[1]"])
    def test_anything_else_is_refused_with_its_rule(self, since):
        with pytest.raises(errors.InvalidSince) as refused:
            commands.parse(f'{{"action":"joinRoom","roomId":"r","since":{since}}}')
        assert refused.value.message == "Invalid since: use a whole number >= 0"
        assert refused.value.status_code == 400


class TestReplayOf:
    def test_all_of_since_to_until_is_complete(self):
        replay = replay_of([said(s) for s in (1, 2, 3, 4)], 1, 4)
        assert ([m.seq for m in replay.messages], replay.complete) == ([2, 3, 4], True)

    def test_a_hole_cuts_the_replay_to_the_run_that_ends_at_until(self):
        replay = replay_of([said(s) for s in (2, 3, 5, 6)], 0, 6)
        assert ([m.seq for m in replay.messages], replay.complete) == ([5, 6], False)

    def test_a_missing_latest_message_replays_nothing(self):
        replay = replay_of([said(s) for s in (1, 2)], 0, 3)
        assert (replay.messages, replay.complete) == ((), False)

    def test_the_count_limit_keeps_the_latest(self):
        assert Retention(messages=3).oldest_kept(10) == 8
        assert Retention(messages=100).oldest_kept(10) == 1


class TestEveryMessageCarriesASeq:
    def test_seq_starts_at_1_and_grows_by_1_per_room(self, chat):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        for text in ("a", "b", "c"):
            chat.send(alice, "lobby", text)
        assert messages(chat, alice) == [(1, "a"), (2, "b"), (3, "c")]

    def test_joined_room_names_the_latest_seq_and_who_the_joiner_is(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.send(alice, "lobby", "a")
        chat.send(alice, "lobby", "b")
        chat.join(bob, "lobby")
        joined = chat.last(bob)
        assert (joined["seq"], joined["userId"]) == (2, "bob")
        assert joined["epoch"] == chat.service.log.epoch
        assert "recovered" not in joined
        assert messages(chat, bob) == []

    def test_with_retention_off_frames_still_carry_seq(self, clock):
        chat = chat_keeping(clock, Retention(messages=0))
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.send(alice, "lobby", "a")
        chat.send(alice, "lobby", "b")
        assert messages(chat, alice) == [(1, "a"), (2, "b")]


class TestResume:
    def test_a_returning_client_gets_what_it_missed_after_joined_room_in_order(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        chat.send(alice, "lobby", "seen")
        chat.service.disconnect(bob)
        for text in ("one", "two", "three"):
            chat.send(alice, "lobby", text)
        back = chat.connect("bob-again")
        chat.say(back, action="joinRoom", roomId="lobby", since=1)
        frames = chat.frames(back)
        assert frames[0]["action"] == "joinedRoom"
        assert (frames[0]["seq"], frames[0]["recovered"], frames[0]["replayed"]) == (4, True, 3)
        assert [(f["seq"], f["message"], f["sender"]) for f in frames[1:]] == [
            (2, "one", "alice"), (3, "two", "alice"), (4, "three", "alice"),
        ]

    def test_since_0_is_everything_still_retained(self, chat):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.send(alice, "lobby", "first")
        bob = chat.connect("bob")
        chat.say(bob, action="joinRoom", roomId="lobby", since=0)
        assert messages(chat, bob) == [(1, "first")]
        assert chat.frames(bob)[0]["recovered"] is True

    def test_a_member_filling_a_gap_gets_the_replay_and_the_room_hears_no_join(self, chat):
        alice, bob = chat.connect("alice"), chat.connect("bob")
        chat.join(alice, "lobby")
        chat.join(bob, "lobby")
        chat.send(alice, "lobby", "one")
        chat.send(alice, "lobby", "two")
        chat.forget_frames()
        chat.say(bob, action="joinRoom", roomId="lobby", since=1)
        assert chat.frames(alice) == []
        assert messages(chat, bob) == [(2, "two")]

    def test_retention_by_count_says_some_messages_were_lost(self, clock):
        chat = chat_keeping(clock, Retention(messages=2))
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        for text in ("one", "two", "three", "four"):
            chat.send(alice, "lobby", text)
        bob = chat.connect("bob")
        chat.say(bob, action="joinRoom", roomId="lobby", since=1)
        joined = chat.frames(bob)[0]
        assert (joined["recovered"], joined["replayed"]) == (False, 2)
        assert messages(chat, bob) == [(3, "three"), (4, "four")]

    def test_retention_by_time_says_some_messages_were_lost(self, clock):
        chat = chat_keeping(clock, Retention(seconds=60))
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.send(alice, "lobby", "old")
        clock.advance(seconds=120)
        chat.send(alice, "lobby", "new")
        bob = chat.connect("bob")
        chat.say(bob, action="joinRoom", roomId="lobby", since=0)
        assert chat.frames(bob)[0]["recovered"] is False
        assert messages(chat, bob) == [(2, "new")]

    def test_a_since_past_the_latest_seq_is_from_an_earlier_log_and_gets_everything(self, chat):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.send(alice, "lobby", "after a restart")
        bob = chat.connect("bob")
        chat.say(bob, action="joinRoom", roomId="lobby", since=57)
        joined = chat.frames(bob)[0]
        assert (joined["seq"], joined["recovered"], joined["replayed"]) == (1, False, 1)
        assert messages(chat, bob) == [(1, "after a restart")]

    def test_a_since_counted_by_another_epoch_gets_everything_retained(self, chat):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.send(alice, "lobby", "one")
        chat.send(alice, "lobby", "two")
        bob = chat.connect("bob")
        chat.say(bob, action="joinRoom", roomId="lobby", since=1, epoch="an-older-log")
        joined = chat.frames(bob)[0]
        assert (joined["recovered"], joined["replayed"]) == (False, 2)
        assert messages(chat, bob) == [(1, "one"), (2, "two")]

    def test_a_since_of_this_epoch_is_taken_as_it_is(self, chat):
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        chat.send(alice, "lobby", "one")
        epoch = chat.frames(alice)[0]["epoch"]
        chat.send(alice, "lobby", "two")
        bob = chat.connect("bob")
        chat.say(bob, action="joinRoom", roomId="lobby", since=1, epoch=epoch)
        assert chat.frames(bob)[0]["recovered"] is True
        assert messages(chat, bob) == [(2, "two")]

    @pytest.mark.parametrize("epoch", [5, "", "x" * 65, ["e"]])
    def test_an_epoch_that_is_not_a_short_string_is_refused(self, chat, epoch):
        bob = chat.connect("bob")
        reply = chat.say(bob, action="joinRoom", roomId="lobby", since=1, epoch=epoch)
        assert reply.status_code == 400
        assert chat.last(bob)["message"] == "Invalid epoch: send back the epoch a joinedRoom gave"

    def test_an_invalid_since_stores_nothing_and_answers_400(self, chat, memory_store):
        bob = chat.connect("bob")
        reply = chat.say(bob, action="joinRoom", roomId="lobby", since=-1)
        assert reply.status_code == 400
        assert chat.last(bob)["message"] == "Invalid since: use a whole number >= 0"
        assert memory_store.members(ROOM) == []

    def test_a_joiner_gone_mid_replay_gets_no_more_posts(self, clock):
        class BobGoesAfterOneMessage(FakeNotifier):
            attempts = 0

            def send(self, connection_id, frame):
                to_bob = frame.action == "message" and connection_id.value == "conn-bob"
                self.attempts += to_bob
                super().send(connection_id, frame)
                if to_bob:
                    self.mark_gone(connection_id)

        log, notifier = InMemoryRoomLog(clock), BobGoesAfterOneMessage()
        store = InMemoryConnectionStore(clock, log)
        chat = Chat(ChatService(store, notifier, clock, log=log), notifier)
        alice = chat.connect("alice")
        chat.join(alice, "lobby")
        for text in ("one", "two", "three"):
            chat.send(alice, "lobby", text)
        bob = chat.connect("bob")
        chat.say(bob, action="joinRoom", roomId="lobby", since=0)
        assert notifier.attempts == 2  # the second found bob gone, the third was never tried
        assert store.get(bob) is None


class TestASendAgainstAStaleMemberList:
    def test_the_send_reads_the_members_again_and_reaches_the_newcomer(self, clock):
        class LogSeeingOneJoinLate(InMemoryRoomLog):
            """Refuses the first append, as a log does whose room took a member meanwhile."""

            refused = False

            def append(self, message, after, members_version=None):
                if not self.refused:
                    self.refused = True
                    chat.join(carol, "lobby")  # the member who joined meanwhile
                    raise errors.MembershipChanged(message.room_id.value)
                return super().append(message, after, members_version)

        log, notifier = LogSeeingOneJoinLate(clock), FakeNotifier()
        chat = Chat(ChatService(InMemoryConnectionStore(clock, log), notifier, clock, log=log),
                    notifier)
        alice, carol = chat.connect("alice"), chat.connect("carol")
        chat.join(alice, "lobby")
        assert chat.send(alice, "lobby", "hello").status_code == 200
        assert messages(chat, carol) == [(1, "hello")]
        assert messages(chat, alice) == [(1, "hello")]
