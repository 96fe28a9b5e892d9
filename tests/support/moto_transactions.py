"""Make moto's TransactWriteItems behave like DynamoDB's at test scale: isolated and O(items).

moto 5.2 (moto/dynamodb/models/__init__.py, transact_write_items) deep-copies every table a
transaction names before applying it, so each transaction costs O(table size): the
contract suite's 2,500 joins into one table take over five minutes. It also takes no lock,
so two concurrent transactions may both pass their conditions, which DynamoDB never
allows. `install()` runs each transaction under one lock and snapshots only the items it
names; a cancelled transaction restores exactly those, as moto's own rollback would.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_LOCK = threading.RLock()
_ORIGINAL = DynamoDBBackend.transact_write_items


def install() -> None:
    """Idempotent; affects moto in this process only (the in-process mock or a moto_server)."""
    DynamoDBBackend.transact_write_items = _isolated_transaction  # type: ignore[method-assign]
    dynamodb_models.copy = _CopyKeepingTables()  # type: ignore[assignment]


class _CopyKeepingTables:
    """`copy` for moto's models module: a Table "snapshot" is the table itself (see above)."""

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _isolated_transaction(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _LOCK:
        restores = [_snapshot(backend, request) for request in transact_items]
        try:
            _ORIGINAL(backend, transact_items)
        except Exception:
            for restore in reversed(restores):
                restore()
            raise


def _snapshot(backend: DynamoDBBackend, request: dict[str, Any]) -> Callable[[], None]:
    operation, details = next(iter(request.items()))
    table = backend.tables.get(details.get("TableName", ""))
    key = details.get("Item" if operation == "Put" else "Key", {})
    if table is None or not {table.hash_key_attr, table.range_key_attr} - {None} <= set(key):
        return lambda: None  # moto itself refuses this request before writing anything
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    saved = copy.deepcopy(table.get_item(hash_key, range_key))

    def restore() -> None:
        table.delete_item(hash_key, range_key)
        if saved is not None and range_key is not None:
            table.items[hash_key][range_key] = saved
        elif saved is not None:
            table.items[hash_key] = saved

    return restore
