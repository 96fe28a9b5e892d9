"""Where the PostToConnection notifiers post: endpoint normalisation and the event's endpoint."""

from __future__ import annotations

import pytest

from roomcast.adapters.async_fanout import AsyncFanoutNotifier
from roomcast.adapters.endpoints import endpoint_from_event, management_endpoint, region_of
from roomcast.adapters.post_to_connection import PostToConnectionNotifier, management_client
from roomcast.domain import frames
from roomcast.domain.model import ConnectionId
from tests.support.notifier_harnesses import boto3_session, start_stub

AWS_API = "abc123.execute-api.eu-central-1.amazonaws.com"


class TestManagementEndpoint:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (f"https://{AWS_API}/prod", f"https://{AWS_API}/prod"),
            (f"wss://{AWS_API}/prod", f"https://{AWS_API}/prod"),
            (f"WSS://{AWS_API}/prod/", f"https://{AWS_API}/prod"),
            ("http://127.0.0.1:8080/local/", "http://127.0.0.1:8080/local"),
            ("ws://127.0.0.1:8080/local", "http://127.0.0.1:8080/local"),
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ],
    )
    def test_websocket_and_https_urls_become_the_management_endpoint(self, given, expected):
        assert management_endpoint(given) == expected

    @pytest.mark.parametrize("given", ["ftp://example.com/x", f"{AWS_API}/prod", "https://", ""])
    def test_anything_else_is_refused(self, given):
        with pytest.raises(ValueError):
            management_endpoint(given)

    def test_the_region_comes_from_an_execute_api_host(self):
        assert region_of(f"https://{AWS_API}/prod") == "eu-central-1"
        assert region_of("http://127.0.0.1:8080/local") is None


class TestEndpointFromEvent:
    def test_the_endpoint_is_the_events_domain_and_stage(self):
        context = {"domainName": AWS_API, "stage": "prod", "connectionId": "abc="}
        assert endpoint_from_event(context) == f"https://{AWS_API}/prod"


class TestNotifiersNormaliseTheirEndpoint:
    def test_the_async_notifier_takes_a_wss_url(self):
        notifier = AsyncFanoutNotifier(f"wss://{AWS_API}/prod/")
        assert notifier.endpoint_url == f"https://{AWS_API}/prod"
        notifier.close()

    def test_a_ws_url_on_loopback_reaches_the_gateway(self, request):
        stub = start_stub(request)
        ws_url = stub.endpoint.replace("http://", "ws://") + "/"
        notifier = PostToConnectionNotifier(management_client(ws_url, session=boto3_session()))
        notifier.send(ConnectionId("abc="), frames.pong(1))
        assert stub.received("abc=") == [frames.pong(1).encode()]
