"""WorkLedger on the connections table: one small item per finished work item.

`pk=WORK#<work id>`, `sk=DONE`, expiring a day later by the table's TTL: SQS redelivers a
message within its retention (4 days at most by default, 14 at the most), but a work item's
redelivery comes after a visibility timeout, minutes at the most, or it goes to the
dead-letter queue. One eventually consistent GetItem (0.5 RCU) and one PutItem (1 WCU) per
shard of up to ROOMCAST_FANOUT_SHARD_SIZE deliveries.
"""

from __future__ import annotations

from typing import Any

from roomcast.adapters.dynamodb_items import TTL_ATTRIBUTE
from roomcast.ports import Clock

DONE_SK = "DONE"
REMEMBER_SECONDS = 24 * 3600


class DynamoDBWorkLedger:
    def __init__(self, client: Any, table_name: str, clock: Clock) -> None:
        self._client = client
        self._table_name = table_name
        self._clock = clock

    def is_done(self, work_id: str) -> bool:
        answer = self._client.get_item(
            TableName=self._table_name, Key=_key(work_id), ProjectionExpression="pk"
        )
        return "Item" in answer

    def mark_done(self, work_id: str) -> None:
        expires = self._clock.now_ms() // 1000 + REMEMBER_SECONDS
        self._client.put_item(
            TableName=self._table_name,
            Item={**_key(work_id), TTL_ATTRIBUTE: {"N": str(expires)}},
        )


def _key(work_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"WORK#{work_id}"}, "sk": {"S": DONE_SK}}
