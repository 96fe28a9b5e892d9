"""The ports: what the domain needs from the outside world, as typing.Protocol classes."""

from roomcast.ports.auth import TokenVerifier
from roomcast.ports.clock import Clock
from roomcast.ports.fanout import FanoutQueue, WorkLedger
from roomcast.ports.history import RoomLog
from roomcast.ports.notifier import Notifier
from roomcast.ports.store import ConnectionStore

__all__ = [
    "Clock", "ConnectionStore", "FanoutQueue", "Notifier", "RoomLog", "TokenVerifier", "WorkLedger",
]
