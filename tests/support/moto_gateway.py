"""moto's Management API, in-process (mock_aws) or over HTTP (a ThreadedMotoServer per session).

moto keeps what was posted as one byte string per connection (frames concatenated), in
process-wide backends, so the server runs in this process for tests to read what arrived.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.utils import percent_encode
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
# In-process, moto routes any execute-api host, with the stage in the path.
IN_PROCESS_ENDPOINT = f"https://abc123.execute-api.{REGION}.amazonaws.com/test"
_SERVER_KEY = pytest.StashKey[str]()


def threaded_moto_url(config: pytest.Config) -> str:
    """Over HTTP moto recognises the Management API only at /@connections: no stage in the URL."""
    if _SERVER_KEY not in config.stash:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        config.add_cleanup(server.stop)
        host, port = server.get_host_and_port()
        config.stash[_SERVER_KEY] = f"http://{host}:{port}"
    return config.stash[_SERVER_KEY]


def start_mock_aws(request: pytest.FixtureRequest) -> None:
    """mock_aws for one test, leaving other services' moto state alone (no global reset)."""
    mock = mock_aws()
    mock.start(reset=False)
    request.addfinalizer(lambda: mock.stop(remove_data=False))


def forget_posts(request: pytest.FixtureRequest) -> None:
    _connections().clear()
    request.addfinalizer(_connections().clear)


def frames_posted(connection_id: str) -> list[dict[str, Any]]:
    """Split moto's concatenated bytes back into the JSON frames that were posted.

    moto keys connections by the id as it appears in the URL, percent-encoded by botocore.
    """
    connection = _connections().get(percent_encode(connection_id))
    text = connection.data.decode() if connection else ""
    decoder, position = json.JSONDecoder(), 0
    frames: list[dict[str, Any]] = []
    while position < len(text):
        frame, position = decoder.raw_decode(text, position)
        frames.append(frame)
    return frames


def _connections() -> dict[str, Any]:
    return apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION].connections
