"""Notifier contract: every notifier adapter must pass every test here.

Delivery tests take `notifier_harness` (every adapter). Tests that need a connection to be
gone take `gone_injecting_harness`: every adapter whose world can produce 410 (moto cannot,
see CANNOT_INJECT_FAULTS in conftest.py). Tests that also need one to be failing take
`fault_injecting_harness`: those whose world can produce 403 and the faults of FAULTS as
well (the in-process notifier cannot, see CANNOT_FAIL_ONE_CONNECTION).
"""

from __future__ import annotations

import pytest

from roomcast.domain import frames
from roomcast.domain.errors import ConnectionGone, DeliveryFailed, FailureKind
from roomcast.domain.model import ConnectionId, Message, RoomId, UserId

ROOM = RoomId("lobby")
# The kind every adapter must report for each fault a harness can inject; a 429 or a hang-up
# is met on every attempt, a timeout is an answer that comes too late.
FAULTS = {
    "429": FailureKind.RATE_LIMITED,
    "413": FailureKind.PAYLOAD_TOO_LARGE,
    "403": FailureKind.FORBIDDEN,
    "500": FailureKind.SERVER_ERROR,
    "503": FailureKind.SERVER_ERROR,
    "timeout": FailureKind.TIMEOUT,
    "hang-up": FailureKind.UNREACHABLE,
}


def hello(text: str = "hi") -> frames.Frame:
    return frames.message(Message(ROOM, text, UserId("alice"), 1_700_000_000_000, 1))


class TestSend:
    def test_a_frame_arrives_as_sent(self, notifier_harness):
        target = ConnectionId("c-1")
        notifier_harness.notifier.send(target, hello("héllo ✓"))
        assert notifier_harness.received(target) == [hello("héllo ✓").fields]

    def test_an_api_gateway_style_id_is_addressed_exactly(self, notifier_harness):
        target, neighbour = ConnectionId("L0SM9cOFvHcCIhw="), ConnectionId("L0SM9cOFvHcCIhw")
        notifier_harness.notifier.send(target, hello())
        assert notifier_harness.received(target) == [hello().fields]
        assert notifier_harness.received(neighbour) == []

    def test_sending_to_a_gone_connection_raises_connection_gone(self, gone_injecting_harness):
        target = ConnectionId("c-gone")
        gone_injecting_harness.mark_gone(target)
        with pytest.raises(ConnectionGone):
            gone_injecting_harness.notifier.send(target, hello())

    def test_sending_to_a_failing_connection_raises_delivery_failed(self, fault_injecting_harness):
        target = ConnectionId("c-bad")
        fault_injecting_harness.mark_failing(target)
        with pytest.raises(DeliveryFailed) as raised:
            fault_injecting_harness.notifier.send(target, hello())
        assert raised.value.kind is FailureKind.FORBIDDEN


class TestBroadcast:
    def test_every_recipient_receives_each_frame_once_in_order(self, notifier_harness):
        recipients = [ConnectionId(f"ok-{i}") for i in range(3)]
        for text in ("first", "second"):
            result = notifier_harness.notifier.broadcast(recipients, hello(text))
            assert (result.delivered, result.gone, dict(result.failed)) == (3, frozenset(), {})
        for connection_id in recipients:
            assert notifier_harness.received(connection_id) == [
                hello("first").fields,
                hello("second").fields,
            ]

    def test_a_mix_of_gone_failing_and_healthy_connections(self, fault_injecting_harness):
        healthy = [ConnectionId(f"ok-{i}") for i in range(5)]
        gone = [ConnectionId(f"gone-{i}") for i in range(3)]
        failing = ConnectionId("bad-0")
        for connection_id in gone:
            fault_injecting_harness.mark_gone(connection_id)
        fault_injecting_harness.mark_failing(failing)
        result = fault_injecting_harness.notifier.broadcast([*healthy, *gone, failing], hello())
        assert result.delivered == 5
        assert result.gone == frozenset(gone)
        assert {c: f.kind for c, f in result.failed.items()} == {failing: FailureKind.FORBIDDEN}
        for connection_id in healthy:
            assert fault_injecting_harness.received(connection_id) == [hello().fields]

    def test_broadcast_to_nobody_delivers_nothing(self, notifier_harness):
        result = notifier_harness.notifier.broadcast([], hello())
        assert (result.delivered, result.gone, dict(result.failed)) == (0, frozenset(), {})


@pytest.mark.usefixtures("quick_timeouts")
class TestFailureKinds:
    @pytest.mark.parametrize(("fault", "kind"), FAULTS.items())
    def test_send_raises_the_kind_of_the_fault(self, fault_injecting_harness, fault, kind):
        target = ConnectionId("c-bad")
        fault_injecting_harness.inject(target, fault)
        with pytest.raises(DeliveryFailed) as raised:
            fault_injecting_harness.notifier.send(target, hello())
        assert raised.value.kind is kind
        assert raised.value.message

    def test_broadcast_reports_the_kind_of_each_failed_recipient(self, fault_injecting_harness):
        failing = {ConnectionId(f"bad-{fault}"): kind for fault, kind in FAULTS.items()}
        for fault in FAULTS:
            fault_injecting_harness.inject(ConnectionId(f"bad-{fault}"), fault)
        healthy = ConnectionId("ok")
        result = fault_injecting_harness.notifier.broadcast([healthy, *failing], hello())
        assert (result.delivered, result.gone) == (1, frozenset())
        assert {c: f.kind for c, f in result.failed.items()} == failing
        assert all(f.message for f in result.failed.values())
        assert fault_injecting_harness.received(healthy) == [hello().fields]


class TestProbe:
    def test_find_gone_names_exactly_the_gone_connections(self, gone_injecting_harness):
        alive, gone = ConnectionId("alive"), ConnectionId("gone")
        gone_injecting_harness.mark_gone(gone)
        assert gone_injecting_harness.notifier.find_gone([alive, gone]) == frozenset({gone})

    def test_find_gone_among_live_connections_finds_none(self, notifier_harness):
        alive = [ConnectionId("alive-1"), ConnectionId("alive-2")]
        assert notifier_harness.notifier.find_gone(alive) == frozenset()
