"""Looking under the DynamoDB store: raw items, the requests it makes, a flaky BatchWrite,
the size of its transactions."""

from __future__ import annotations

from typing import Any

from roomcast.adapters.dynamodb_paging import every_item


class RequestLog:
    """The DynamoDB operations a client calls, in order (one per API call, retries excluded)."""

    def __init__(self, client: Any) -> None:
        self.operations: list[str] = []
        client.meta.events.register("before-call.dynamodb", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def clear(self) -> None:
        self.operations.clear()

    def count(self, operation: str) -> int:
        return self.operations.count(operation)


def connection_items(client: Any, table_name: str) -> list[dict[str, Any]]:
    """Every connection and membership item, expired or not: what the room log keeps (each
    room's head, its messages) left out."""
    return [
        item for item in raw_items(client, table_name)
        if item["sk"]["S"] != "LOG" and not item["pk"]["S"].startswith("LOG#")
    ]


def raw_items(client: Any, table_name: str) -> list[dict[str, Any]]:
    """Every item in the table, expired or not, sorted by key."""
    found = every_item(client.scan, TableName=table_name, ConsistentRead=True)
    return sorted(found, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


class ThrottledBatchWrites:
    """A client whose BatchWriteItem processes only the first request of a batch
    `throttled_calls` times, handing back the rest as UnprocessedItems, as DynamoDB does
    under throttling. Everything else goes to the real client."""

    def __init__(self, client: Any, throttled_calls: int) -> None:
        self._client = client
        self._throttled_left = throttled_calls
        self.batch_sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        [(table_name, requests)] = RequestItems.items()
        self.batch_sizes.append(len(requests))
        if self._throttled_left <= 0:
            return dict(self._client.batch_write_item(RequestItems=RequestItems))
        self._throttled_left -= 1
        self._client.batch_write_item(RequestItems={table_name: requests[:1]})
        rest = requests[1:]
        return {"UnprocessedItems": {table_name: rest} if rest else {}}


class TransactionSizes:
    """Records how many items each TransactWriteItems call holds; with `fail_after`, the
    calls after that many raise RuntimeError before reaching the table."""

    def __init__(self, client: Any, fail_after: int | None = None) -> None:
        self.items: list[int] = []
        self.fail_after = fail_after
        client.meta.events.register(
            "before-parameter-build.dynamodb.TransactWriteItems", self._record
        )

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        if self.fail_after is not None and len(self.items) >= self.fail_after:
            raise RuntimeError("the transaction did not reach the table")
        self.items.append(len(params["TransactItems"]))
