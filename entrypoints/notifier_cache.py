"""Notifiers per management endpoint: built once per process, looked up per invocation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from roomcast.adapters.endpoints import management_endpoint
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult
from roomcast.ports import Notifier


class NotifierCache:
    """One notifier per management endpoint, built on first use and kept for the process."""

    def __init__(self, build: Callable[..., Notifier]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._by_endpoint: dict[str, Notifier] = {}

    def get(self, endpoint: str) -> Notifier:
        key = management_endpoint(endpoint)
        with self._lock:
            if key not in self._by_endpoint:
                self._by_endpoint[key] = self._build(endpoint=key)
            return self._by_endpoint[key]

    def close(self) -> None:
        with self._lock:
            notifiers, self._by_endpoint = list(self._by_endpoint.values()), {}
        for notifier in notifiers:
            close = getattr(notifier, "close", None)
            if callable(close):
                close()


class EndpointNotifier:
    """The endpoint's cached notifier, looked up on first use: $connect never posts, so a
    connect invocation neither builds a notifier nor imports its SDK."""

    def __init__(self, cache: NotifierCache, endpoint: str) -> None:
        self._cache = cache
        self._endpoint = endpoint

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        self._cache.get(self._endpoint).send(connection_id, frame)

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        return self._cache.get(self._endpoint).broadcast(connection_ids, frame)

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        return self._cache.get(self._endpoint).find_gone(connection_ids)
