"""The template's DynamoDB tables on this machine: on an embedded moto server that `serve`
starts itself, or at the user's `AWS_ENDPOINT_URL_DYNAMODB`.

`python -m roomcast.entrypoints.gateway.local_aws PORT` is that embedded server: moto's own,
which exits when its parent does (its stdin closes), so no server outlives a killed `serve`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STARTUP_SECONDS = 30.0
LOCAL_KEYS = {"aws_access_key_id": "roomcast-local", "aws_secret_access_key": "roomcast-local"}


class LocalAwsError(Exception):
    """The local DynamoDB (or SQS) cannot be had: said in one line."""


@dataclass
class LocalEndpoint:
    """A local AWS endpoint for the template's tables or queues: the user's, or a moto
    server embedded here (`process`), which serves both."""

    url: str
    embedded: bool
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def local_dynamodb(environ: Mapping[str, str]) -> LocalEndpoint:
    """The user's endpoint when they gave one (it wins), else an embedded moto server."""
    given = _given_endpoint(environ, "DYNAMODB", "DynamoDB tables", "a DynamoDB Local")
    if given is not None:
        return given
    port = _free_loopback_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "roomcast.entrypoints.gateway.local_aws", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": _import_path()},
    )
    server = LocalEndpoint(f"http://127.0.0.1:{port}", embedded=True, process=process)
    try:
        _wait_until_serving(server.url, process)
    except LocalAwsError:
        server.stop()
        raise
    return server


def local_sqs(environ: Mapping[str, str]) -> LocalEndpoint:
    """The SQS endpoint for the template's queues: the user's (AWS_ENDPOINT_URL_SQS, or
    AWS_ENDPOINT_URL), else an embedded moto server (moto serves SQS on the same port as
    DynamoDB, so it is the tables' server too unless the user gave a DynamoDB endpoint)."""
    given = _given_endpoint(environ, "SQS", "SQS queues", "an SQS endpoint")
    return given if given is not None else local_dynamodb({})


def _given_endpoint(
    environ: Mapping[str, str], service: str, resources: str, alternative: str
) -> LocalEndpoint | None:
    """The user's endpoint for `service` (boto3's AWS_ENDPOINT_URL_<SERVICE>, or
    AWS_ENDPOINT_URL), or None when moto can be embedded instead; else why neither can."""
    variable = f"AWS_ENDPOINT_URL_{service}"
    given = environ.get(variable) or environ.get("AWS_ENDPOINT_URL")
    if given:
        return LocalEndpoint(given, embedded=False)
    if importlib.util.find_spec("moto") is None:
        raise LocalAwsError(
            f"the template has {resources} and moto is not installed: pip install "
            f"'roomcast[aws-local]' (or set {variable} to {alternative})"
        )
    return None


def sqs_client(endpoint: str, region: str, *, embedded: bool) -> Any:
    import boto3
    from botocore.config import Config

    quick = Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2},
                   max_pool_connections=50)
    keys = LOCAL_KEYS if embedded else {}
    return boto3.client("sqs", endpoint_url=endpoint, region_name=region, config=quick, **keys)


def _import_path() -> str:
    """This roomcast importable in the child, as it is here (a checkout's cwd included)."""
    here = [p or os.getcwd() for p in sys.path]
    return os.pathsep.join(dict.fromkeys(here))


def ensure_tables(
    endpoint: str, region: str, tables: Iterable[Any], *, embedded: bool
) -> list[str]:
    """Create each missing table (key schema, indexes, TTL); the names of those created."""
    import boto3
    from botocore.config import Config

    quick = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2})
    keys = LOCAL_KEYS if embedded else {}
    client = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name=region, config=quick, **keys
    )
    created = []
    for table in tables:
        try:
            client.describe_table(TableName=table.name)
            continue
        except client.exceptions.ResourceNotFoundException:
            pass
        client.create_table(**table.create_arguments)
        client.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 1})
        if table.ttl_attribute:
            client.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        created.append(table.name)
    return created


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalAwsError(f"the embedded DynamoDB (moto) exited with {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1),
        ):
            return
        time.sleep(0.05)
    raise LocalAwsError(f"the embedded DynamoDB (moto) did not answer within {STARTUP_SECONDS}s")


def _exit_with_parent() -> None:
    """The parent holds our stdin open; it closes when the parent exits, however it exits."""
    sys.stdin.buffer.read()
    os._exit(0)


def _serve(port: str) -> None:
    from moto.server import main

    threading.Thread(target=_exit_with_parent, daemon=True).start()
    main(["-H", "127.0.0.1", "-p", port])


if __name__ == "__main__":
    _serve(sys.argv[1])
