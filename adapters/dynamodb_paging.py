"""DynamoDB's partial answers, finished: Query/Scan pages and BatchWrite's UnprocessedItems."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from roomcast.adapters.dynamodb_items import Item

BATCH_WRITE_LIMIT = 25


class BatchWriteIncomplete(Exception):
    """BatchWriteItem still left items unprocessed after every retry."""


def every_item(call: Callable[..., dict[str, Any]], **request: Any) -> Iterator[Item]:
    """Yield the items of a Query or Scan, following LastEvaluatedKey to the last page."""
    while True:
        page = call(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class BatchDeleter:
    """Deletes keys 25 per BatchWriteItem, retrying UnprocessedItems with capped backoff."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        attempts: int = 8,
        first_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._attempts = attempts
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._sleep = sleep

    def delete(self, keys: Iterable[Item]) -> None:
        unique = iter({_identity(key): key for key in keys}.values())
        while chunk := list(islice(unique, BATCH_WRITE_LIMIT)):
            self._write({self._table_name: [{"DeleteRequest": {"Key": key}} for key in chunk]})

    def _write(self, pending: dict[str, Any]) -> None:
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(min(self._max_delay, self._first_delay * 2 ** (attempt - 1)))
            pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            if not pending:
                return
        unprocessed = sum(len(requests) for requests in pending.values())
        raise BatchWriteIncomplete(
            f"{unprocessed} deletes still unprocessed after {self._attempts} BatchWriteItem calls"
        )


def _identity(key: Item) -> tuple[str, str]:
    # BatchWriteItem rejects a request that names the same key twice.
    return key["pk"]["S"], key["sk"]["S"]
