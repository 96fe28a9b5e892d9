"""The scheduled cleanup over live, gone and expired connections."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from dependency_injector import providers

from roomcast.adapters.clocks import FixedClock
from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.domain.model import ConnectionId, RoomId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import Container, get_container
from roomcast.entrypoints.settings import ConfigurationError
from tests.integration.harness import Gateway, item_keys
from tests.support import events
from tests.support.gateway_stub import GatewayStub


@pytest.fixture
def sweeping(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("WEBSOCKET_ENDPOINT", events.ENDPOINT)


def a_room_of_live_gone_and_expired(
    gateway: Gateway, clock: FixedClock, fake_notifier: FakeNotifier
) -> tuple[str, str, str]:
    expired = gateway.connect("carol")
    gateway.join(expired, "lobby")
    clock.advance(seconds=3600)
    live, gone = gateway.connect("alice"), gateway.connect("bob")
    gateway.join(live, "lobby")
    gateway.join(gone, "lobby")
    fake_notifier.mark_gone(ConnectionId(gone))
    clock.advance(seconds=3601)
    gateway.new_frames(live)
    return live, gone, expired


class TestCleanup:
    def test_gone_and_expired_connections_are_removed_and_their_rooms_told(
        self,
        sweeping: None,
        faked_gateway: Gateway,
        faked: Container,
        clock: FixedClock,
        fake_notifier: FakeNotifier,
    ) -> None:
        live, *_ = a_room_of_live_gone_and_expired(faked_gateway, clock, fake_notifier)
        report = handlers.cleanup(events.scheduled_event(), None)
        assert report == {"checked": 3, "removed": 2}
        store = faked.store()
        assert [c.id.value for c in store.connections()] == [live]
        assert [m.connection_id.value for m in store.members(RoomId("lobby"))] == [live]
        left = [(f["action"], f["userId"]) for f in faked_gateway.new_frames(live)]
        assert sorted(left) == [("userLeft", "bob"), ("userLeft", "carol")]

    def test_a_second_sweep_finds_nothing_more_to_remove(
        self,
        sweeping: None,
        faked_gateway: Gateway,
        clock: FixedClock,
        fake_notifier: FakeNotifier,
    ) -> None:
        a_room_of_live_gone_and_expired(faked_gateway, clock, fake_notifier)
        handlers.cleanup(events.scheduled_event(), None)
        assert handlers.cleanup(events.scheduled_event(), None) == {"checked": 1, "removed": 0}

    def test_the_sweep_needs_the_management_endpoint(self, faked: Container) -> None:
        with pytest.raises(ConfigurationError, match="WEBSOCKET_ENDPOINT"):
            handlers.cleanup(events.scheduled_event(), None)


@pytest.fixture
def stub(environment: pytest.MonkeyPatch) -> Iterator[GatewayStub]:
    """A loopback Management API that answers 410 for connections it is told are gone."""
    gateway_stub = GatewayStub(stage="dev")
    environment.setenv("WEBSOCKET_ENDPOINT", gateway_stub.endpoint)
    yield gateway_stub
    gateway_stub.close()


class TestCleanupOverHttp:
    @pytest.mark.parametrize("notifier", ["http", "async"])
    def test_a_concurrent_notifier_finds_the_gone_connection_by_its_410(
        self, stub: GatewayStub, environment: pytest.MonkeyPatch, table: str, notifier: str
    ) -> None:
        environment.setenv("CONNECTIONS_TABLE", table)
        environment.setenv("ROOMCAST_NOTIFIER", notifier)
        clock = FixedClock()
        get_container().clock.override(providers.Object(clock))
        gateway = Gateway(lambda c: [json.loads(body) for body in stub.received(c)])
        live, gone = gateway.connect("alice"), gateway.connect("bob")
        gateway.join(live, "lobby")
        gateway.join(gone, "lobby")
        gateway.new_frames(live)
        stub.answer(gone, 410)
        clock.advance(seconds=60)  # past the handshake grace: younger ones are not probed
        assert handlers.cleanup(events.scheduled_event(), None) == {"checked": 2, "removed": 1}
        assert item_keys(table) == {
            (f"CONN#{live}", "CONNECTION"),
            ("ROOM#lobby", f"CONN#{live}"),
            ("ROOM#lobby", "LOG"),  # the room's log head: its seq and membership version
        }
        assert gateway.new_actions(live) == ["userLeft"]
