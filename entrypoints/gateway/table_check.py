"""`serve --store dynamodb` checks its table before it binds, and never reaches AWS unasked.

A missing table would otherwise surface as a 500 on the first `$connect`; a missing
endpoint override would quietly point a laptop's gateway at the real account.
"""

from __future__ import annotations

import os
from typing import Any

from roomcast.entrypoints.gateway.environment import dynamodb_endpoint_override
from roomcast.entrypoints.gateway.template import table_definition, ttl_attribute

CREATE_HINT = "roomcast serve --store dynamodb --create-table"


class CannotStart(Exception):
    """The gateway cannot start as asked (port taken, template unreadable...): said in one line."""


def ensure_table(table: str, template: dict[str, Any], *, create: bool, allow_aws: bool) -> str:
    """Where the table is (its endpoint URL) once it is known to exist, or created."""
    if dynamodb_endpoint_override(os.environ) is None and not allow_aws:
        raise CannotStart(
            "--store dynamodb would use real AWS: set AWS_ENDPOINT_URL_DYNAMODB (DynamoDB "
            "Local, moto_server) or pass --allow-aws"
        )
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client()
    endpoint = str(client.meta.endpoint_url)
    try:
        if not _exists(client, table):
            if not create:
                raise CannotStart(
                    f"table {table} does not exist at {endpoint}: create it with `{CREATE_HINT}`"
                )
            _create(client, table, template)
    except (BotoCoreError, ClientError) as error:
        raise CannotStart(f"cannot use table {table} at {endpoint}: {error}") from None
    return endpoint


def _client() -> Any:
    import boto3
    from botocore.config import Config

    quick = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2})
    return boto3.client("dynamodb", config=quick)


def _exists(client: Any, table: str) -> bool:
    try:
        client.describe_table(TableName=table)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


def _create(client: Any, table: str, template: dict[str, Any]) -> None:
    """The template's table, with the TTL that every item relies on (CreateTable sets none)."""
    client.create_table(TableName=table, **table_definition(template))
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute(template)},
    )
    print(f"Created table {table} (TTL on {ttl_attribute(template)})", flush=True)
