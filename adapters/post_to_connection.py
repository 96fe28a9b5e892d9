"""Notifier over the API Gateway Management API with a synchronous boto3 client."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config

from roomcast.adapters.endpoints import management_endpoint, region_of
from roomcast.adapters.management_api import (
    Outcome,
    Retryable,
    RetryPolicy,
    client_settings,
    exhausted,
    tally,
    translate,
)
from roomcast.domain.errors import ConnectionGone, DeliveryFailed
from roomcast.domain.frames import Frame
from roomcast.domain.model import ConnectionId
from roomcast.domain.results import BroadcastResult

log = logging.getLogger(__name__)


def management_client(
    endpoint_url: str, region: str | None = None, session: boto3.Session | None = None
) -> Any:
    """A boto3 apigatewaymanagementapi client; botocore's own retries are off (client_settings)."""
    endpoint = management_endpoint(endpoint_url)
    return (session or boto3.Session()).client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=region or region_of(endpoint),
        config=Config(**client_settings()),
    )


class PostToConnectionNotifier:
    """One PostToConnection per recipient, in turn; big rooms want AsyncFanoutNotifier.

    Give it a client from management_client(): a client with botocore's default retries
    would retry 429 itself underneath this adapter's own bounded backoff.
    """

    def __init__(self, client: Any, retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()

    def send(self, connection_id: ConnectionId, frame: Frame) -> None:
        self._post(connection_id, frame.encode())

    def broadcast(self, connection_ids: Sequence[ConnectionId], frame: Frame) -> BroadcastResult:
        data = frame.encode()
        return tally((c, self._outcome(c, data)) for c in connection_ids)

    def find_gone(self, connection_ids: Sequence[ConnectionId]) -> frozenset[ConnectionId]:
        return frozenset(c for c in connection_ids if self._is_gone(c))

    def _outcome(self, connection_id: ConnectionId, data: bytes) -> Outcome:
        try:
            self._post(connection_id, data)
        except (ConnectionGone, DeliveryFailed) as outcome:
            return outcome
        return None

    def _post(self, connection_id: ConnectionId, data: bytes) -> None:
        self._call("post_to_connection", ConnectionId=connection_id.value, Data=data)

    def _is_gone(self, connection_id: ConnectionId) -> bool:
        try:
            self._call("get_connection", ConnectionId=connection_id.value)
        except ConnectionGone:
            return True
        except DeliveryFailed as failure:
            log.warning("could not probe %s, keeping it: %s", connection_id, failure)
        return False

    def _call(self, operation: str, **params: Any) -> None:
        last: Retryable | None = None
        for pause in self._retry.pauses():
            time.sleep(pause)
            try:
                self._attempt(operation, params)
                return
            except Retryable as failure:
                log.debug("%s %s: %s", operation, params["ConnectionId"], failure)
                last = failure
        raise exhausted(last, self._retry.attempts)

    def _attempt(self, operation: str, params: dict[str, Any]) -> None:
        try:
            getattr(self._client, operation)(**params)
        except Exception as error:
            raise translate(error) from error
