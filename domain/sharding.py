"""How a service shards its big broadcasts: its queue, its ledger, its shard size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

from roomcast.domain.fanout import DEFAULT_SHARD_SIZE

if TYPE_CHECKING:  # typed by the ports, never importing them at run time
    from roomcast.ports import FanoutQueue, WorkLedger


@frozen
class Sharding:
    """Where the shards of a broadcast go (`queue`), how big each is, and the `ledger` a
    worker keeps of the work items it finished."""

    queue: FanoutQueue
    ledger: WorkLedger
    shard_size: int = DEFAULT_SHARD_SIZE
