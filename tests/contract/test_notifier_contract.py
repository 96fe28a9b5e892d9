"""Notifier contract: every notifier adapter must pass every test here."""

from __future__ import annotations

import pytest

from domain import frames
from domain.errors import ConnectionGone, DeliveryFailed
from domain.model import ConnectionId, RoomId, UserId

ROOM = RoomId("lobby")


def hello(text: str = "hi") -> frames.Frame:
    return frames.message(ROOM, text, UserId("alice"), 1_700_000_000_000)


class TestSend:
    def test_a_frame_arrives_as_sent(self, notifier_harness):
        target = ConnectionId("c-1")
        notifier_harness.notifier.send(target, hello("héllo ✓"))
        assert notifier_harness.received(target) == [hello("héllo ✓").fields]

    def test_sending_to_a_gone_connection_raises_connection_gone(self, notifier_harness):
        target = ConnectionId("c-gone")
        notifier_harness.mark_gone(target)
        with pytest.raises(ConnectionGone):
            notifier_harness.notifier.send(target, hello())

    def test_sending_to_a_failing_connection_raises_delivery_failed(self, notifier_harness):
        target = ConnectionId("c-bad")
        notifier_harness.mark_failing(target)
        with pytest.raises(DeliveryFailed):
            notifier_harness.notifier.send(target, hello())


class TestBroadcast:
    def test_a_mix_of_gone_failing_and_healthy_connections(self, notifier_harness):
        healthy = [ConnectionId(f"ok-{i}") for i in range(5)]
        gone = [ConnectionId(f"gone-{i}") for i in range(3)]
        failing = ConnectionId("bad-0")
        for connection_id in gone:
            notifier_harness.mark_gone(connection_id)
        notifier_harness.mark_failing(failing)
        result = notifier_harness.notifier.broadcast([*healthy, *gone, failing], hello())
        assert result.delivered == 5
        assert result.gone == frozenset(gone)
        assert set(result.failed) == {failing}
        for connection_id in healthy:
            assert notifier_harness.received(connection_id) == [hello().fields]

    def test_broadcast_to_nobody_delivers_nothing(self, notifier_harness):
        result = notifier_harness.notifier.broadcast([], hello())
        assert (result.delivered, result.gone, dict(result.failed)) == (0, frozenset(), {})


class TestProbe:
    def test_find_gone_names_exactly_the_gone_connections(self, notifier_harness):
        alive, gone = ConnectionId("alive"), ConnectionId("gone")
        notifier_harness.mark_gone(gone)
        assert notifier_harness.notifier.find_gone([alive, gone]) == frozenset({gone})
