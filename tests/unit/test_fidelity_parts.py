"""The gateway's API Gateway fidelity, safety and logging parts, without sockets."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from aiohttp import web

from roomcast.entrypoints.gateway import log_setup
from roomcast.entrypoints.gateway import proxy_events as events
from roomcast.entrypoints.gateway.connections import LiveConnection, reason_for
from roomcast.entrypoints.gateway.invoker import _outcome_of
from roomcast.entrypoints.gateway.origins import OriginPolicy
from roomcast.entrypoints.gateway.routing import load_routes
from roomcast.entrypoints.gateway.sessions import offered_subprotocols, selected_subprotocol
from roomcast.entrypoints.gateway.template import load_template

API = events.Api(api_id="abcdefghij", stage="dev", domain_name="127.0.0.1:8080")
CALLER = events.Caller("L0SM9cOFvHcCIhw=", 1_700_000_000_000, "127.0.0.1", "curl/8.5")
TRACE_ID = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")


def connect_event(headers: list[tuple[str, str]]) -> dict[str, Any]:
    return events.connect_event(API, CALLER, headers, [], port=8080)


class TestEvents:
    def test_every_request_id_equals_its_extended_request_id(self) -> None:
        contexts = [
            connect_event([])["requestContext"],
            events.message_event(API, CALLER, "ping", "{}")["requestContext"],
            events.disconnect_event(API, CALLER, 1000, "")["requestContext"],
        ]
        assert all(c["requestId"] == c["extendedRequestId"] for c in contexts)
        assert len({c["requestId"] for c in contexts}) == 3

    def test_a_message_event_carries_the_connections_user_agent(self) -> None:
        context = events.message_event(API, CALLER, "ping", "{}")["requestContext"]
        assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "curl/8.5"}

    def test_connect_headers_lose_the_hop_by_hop_ones_and_gain_api_gateways(self) -> None:
        sent = [("Host", "127.0.0.1:8080"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "k"), ("User-Agent", "curl/8.5")]
        headers = connect_event(sent)["headers"]
        assert "Upgrade" not in headers and "Connection" not in headers
        assert headers["Sec-WebSocket-Key"] == "k"
        assert headers["X-Forwarded-For"] == "127.0.0.1"
        assert headers["X-Forwarded-Port"] == "8080"
        assert headers["X-Forwarded-Proto"] == "http"
        assert TRACE_ID.match(headers["X-Amzn-Trace-Id"])


def template_with_route_response(route_logical_id: str) -> dict[str, Any]:
    template = load_template()
    template["Resources"]["PingResponse"] = {
        "Type": "AWS::ApiGatewayV2::RouteResponse",
        "Properties": {
            "ApiId": {"Ref": "WebSocketApi"},
            "RouteId": {"Ref": route_logical_id},
            "RouteResponseKey": "$default",
        },
    }
    return template


class TestTwoWayRoutes:
    def test_only_a_route_with_a_default_route_response_answers_the_client(self) -> None:
        resources = load_template()["Resources"]
        ping_id = next(
            logical_id for logical_id, r in resources.items()
            if r["Type"] == "AWS::ApiGatewayV2::Route" and r["Properties"]["RouteKey"] == "ping"
        )
        routes = load_routes(template_with_route_response(ping_id))
        assert routes.get("ping").two_way  # type: ignore[union-attr]
        assert not any(r.two_way for key, r in routes.routes.items() if key != "ping")

    def test_the_real_template_has_no_two_way_route(self) -> None:
        assert not any(r.two_way for r in load_routes(load_template()).routes.values())


class TestSubprotocols:
    def test_the_one_connect_returns_is_selected_whatever_the_headers_case(self) -> None:
        outcome = _outcome_of({"statusCode": 200, "headers": {"sec-websocket-protocol": "chat"}})
        assert selected_subprotocol(outcome.headers) == "chat"

    def test_none_is_selected_when_connect_returns_no_header(self) -> None:
        assert selected_subprotocol(_outcome_of({"statusCode": 200}).headers) is None

    def test_the_offered_ones_are_read_in_order(self) -> None:
        headers = {"Sec-WebSocket-Protocol": "chat, token.abc ,v2"}
        assert offered_subprotocols(headers) == ("chat", "token.abc", "v2")


class TestCloseReasons:
    def test_a_client_close_with_a_code_and_no_reason_reports_an_empty_reason(self) -> None:
        connection = LiveConnection(CALLER, web.WebSocketResponse(), None, 1024)
        connection.closed_by_client(1000, "")
        assert (connection.close_code, connection.close_reason) == (1000, "")

    def test_closes_the_gateway_makes_keep_api_gateways_texts(self) -> None:
        assert reason_for(1001) == "Going away"
        assert reason_for(1003) == "Binary frames are not supported"


class TestHosts:
    policy = OriginPolicy.of("127.0.0.1")

    @pytest.mark.parametrize(
        "host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "app.localhost", "10.0.0.5"]
    )
    def test_loopback_names_and_addresses_are_served(self, host: str) -> None:
        assert self.policy.host_problem(host) is None

    def test_a_rebound_dns_name_is_refused(self) -> None:
        assert self.policy.host_problem("attacker.example:8080") is not None

    def test_the_bound_host_name_is_served(self) -> None:
        assert OriginPolicy.of("devbox.lan").host_problem("devbox.lan:8080") is None


class TestWebSocketOrigins:
    policy = OriginPolicy.of("127.0.0.1", ["https://app.example/"])

    @pytest.mark.parametrize(
        "origin",
        [None, "http://127.0.0.1:8080", "http://localhost:3000", "http://[::1]:5173",
         "https://app.example"],
    )
    def test_no_origin_loopback_origins_and_allowed_ones_connect(self, origin: str | None) -> None:
        assert self.policy.websocket_origin_problem(origin, "127.0.0.1:8080") is None

    @pytest.mark.parametrize(
        "origin", ["https://evil.example", "null", "http://127.0.0.1.evil.example"]
    )
    def test_other_pages_are_refused(self, origin: str) -> None:
        assert self.policy.websocket_origin_problem(origin, "127.0.0.1:8080") is not None


class TestManagementFromBrowsers:
    policy = OriginPolicy.of("127.0.0.1")
    host = "127.0.0.1:8080"

    def test_sdk_calls_without_an_origin_are_served(self) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        assert self.policy.management_problem("POST", headers, self.host) is None

    @pytest.mark.parametrize(
        ("method", "headers"),
        [
            ("POST", {"Origin": "https://evil.example"}),
            ("GET", {"Origin": "http://localhost:3000"}),
            ("GET", {"Sec-Fetch-Site": "cross-site"}),
            ("POST", {"Origin": "http://127.0.0.1:8080", "Content-Type": "text/plain"}),
            ("POST", {"Origin": "http://127.0.0.1:8080",
                      "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
        ],
    )
    def test_cross_site_and_form_like_browser_requests_are_refused(
        self, method: str, headers: dict[str, str]
    ) -> None:
        assert self.policy.management_problem(method, headers, self.host) is not None


def record(message: str, *args: object, name: str = "aiohttp.server",
           level: int = logging.ERROR, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord(name, level, __file__, 1, message, args, exc_info)


class TestRedaction:
    def test_query_strings_leave_messages_and_tracebacks(self) -> None:
        from aiohttp.http_exceptions import LineTooLong

        try:
            raise LineTooLong("GET /dev?userId=a&token=eyJhbGciOi.secret HTTP/1.1", "8190")
        except LineTooLong as error:
            entry = record("bad request %s", "/dev?token=eyJhbGciOi.secret", exc=error)
        log_setup.RedactQueryStrings().filter(entry)
        shown = logging.Formatter().format(entry)
        assert "eyJhbGciOi" not in shown and "secret" not in shown
        assert "?[redacted]" in shown

    def test_a_clients_malformed_request_is_one_line_without_a_traceback(self) -> None:
        from aiohttp.http_exceptions import BadHttpMessage

        try:
            raise BadHttpMessage("Duplicate 'Host' header found.")
        except BadHttpMessage as error:
            entry = record("Error handling request from %s", "127.0.0.1", exc=error)
        log_setup.RedactQueryStrings().filter(entry)
        assert logging.Formatter().format(entry) == (
            "Error handling request from 127.0.0.1: 400, message: Duplicate 'Host' header found."
        )

    def test_a_bare_token_parameter_is_redacted_too(self) -> None:
        assert log_setup.redact("token=abc.def.ghi&x=1") == "token=[redacted]&x=1"


class TestQuietByDefault:
    def test_the_handlers_routine_invocation_records_are_left_to_the_access_line(self) -> None:
        hide = log_setup.HideRoutineRecords()
        assert not hide.filter(record("invocation", name="roomcast.invocation", level=20))
        assert hide.filter(record("invocation", name="roomcast.invocation", level=30))
        assert hide.filter(record("connections gone", name="roomcast.delivery", level=20))

    def test_metrics_documents_print_at_debug_only(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.DEBUG, logger="roomcast.metrics"):
            log_setup.log_metrics({"_aws": {}, "FramesDelivered": 3})
        assert [r.levelno for r in caplog.records] == [logging.DEBUG]
