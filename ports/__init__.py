"""The ports: what the domain needs from the outside world, as typing.Protocol classes."""

from ports.auth import TokenVerifier
from ports.clock import Clock
from ports.notifier import Notifier
from ports.store import ConnectionStore

__all__ = ["Clock", "ConnectionStore", "Notifier", "TokenVerifier"]
