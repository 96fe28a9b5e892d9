"""A loopback stand-in for API Gateway's Management API (@connections), steerable per connection."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, defaultdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from tests.support.sigv4_check import signer_of

# What API Gateway answers for each status: botocore maps x-amzn-ErrorType to the
# modeled exception (client.exceptions.GoneException...); without it, a bare ClientError.
ERROR_TYPES = {
    403: "ForbiddenException",
    404: "NotFoundException",
    410: "GoneException",
    413: "PayloadTooLargeException",
    429: "LimitExceededException",
    500: "InternalServerErrorException",
}
BAD_SIGNATURE = -403  # the status respond() reports for a request whose signature fails


HANG_UP = 0  # a scripted "status" that closes the socket without answering
STALL = -1  # a scripted "status" that answers 200 only after `stall_seconds`


class GatewayStub:
    """Answers POST/GET /{stage}/@connections/{id}; records bodies, requests and concurrency.

    Given `secrets` (access key -> secret key), it checks every request's SigV4 signature as
    API Gateway does, answers 403 to a bad one, and records which key signed each request.
    """

    def __init__(self, stage: str = "test", secrets: dict[str, str] | None = None) -> None:
        self.stage = stage
        self.secrets = secrets
        self.signed_by: list[str] = []
        self.connections_opened = 0
        self._lock = threading.Lock()
        self._scripts: dict[str, list[int]] = {}
        self._received: dict[str, list[bytes]] = defaultdict(list)
        self.requests: Counter[tuple[str, str]] = Counter()
        self.post_delay = 0.0
        self.stall_seconds = 3.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )
        self._thread.start()

    @property
    def endpoint(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/{self.stage}"

    # -- steering ----------------------------------------------------------------

    def answer(self, connection_id: str, *statuses: int) -> None:
        """Answer these statuses in turn, then keep answering the last one."""
        with self._lock:
            self._scripts[connection_id] = list(statuses)

    # -- inspection --------------------------------------------------------------

    def received(self, connection_id: str) -> list[bytes]:
        with self._lock:
            return list(self._received.get(connection_id, []))

    def posts_to(self, connection_id: str) -> int:
        with self._lock:
            return self.requests["POST", connection_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- called by the handler threads -----------------------------------------------

    def respond(
        self, method: str, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        prefix = f"/{self.stage}/@connections/"
        if not path.startswith(prefix):
            return 404, b""
        if self.secrets is not None and not self._verified(method, path, body, headers or {}):
            return BAD_SIGNATURE, b""
        connection_id = unquote(path[len(prefix) :])
        status = self._next_status(method, connection_id)
        if status == STALL:
            time.sleep(self.stall_seconds)
            status = 200
        if method == "POST":
            return status, self._post(connection_id, status, body)
        return status, _connection_info() if status == 200 else b""

    def _verified(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bool:
        url = f"http://{headers.get('Host', '')}{path}"
        key = signer_of(method, url, headers, body, self.secrets or {})
        with self._lock:
            if key is not None:
                self.signed_by.append(key)
        return key is not None

    def opened_connection(self) -> None:
        with self._lock:
            self.connections_opened += 1

    def _next_status(self, method: str, connection_id: str) -> int:
        with self._lock:
            self.requests[method, connection_id] += 1
            script = self._scripts.get(connection_id, [200])
            return script.pop(0) if len(script) > 1 else script[0]

    def _post(self, connection_id: str, status: int, body: bytes) -> bytes:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self.post_delay)
        with self._lock:
            self.in_flight -= 1
            if status == 200:
                self._received[connection_id].append(body)
        return b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a fan-out opens dozens of connections at once; 5 would drop SYNs

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hung up: expected
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _connection_info() -> bytes:
    return json.dumps(
        {
            "connectedAt": "2024-01-01T00:00:00Z",
            "lastActiveAt": "2024-01-01T00:00:01Z",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "stub"},
        }
    ).encode()


def _handler_for(stub: GatewayStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real client pool expects

        def setup(self) -> None:
            super().setup()
            stub.opened_connection()

        def do_POST(self) -> None:
            self._answer("POST")

        def do_GET(self) -> None:
            self._answer("GET")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, body = stub.respond(method, self.path, body, dict(self.headers.items()))
            if status == HANG_UP:
                self.close_connection = True  # no response at all, like a dead keep-alive
                return
            error_type = ERROR_TYPES.get(status, "UnknownError")
            if status == BAD_SIGNATURE:
                status, error_type = 403, "InvalidSignatureException"
            if status >= 400:
                body = json.dumps({"message": HTTPStatus(status).phrase}).encode()
            self.send_response(status)
            if status >= 400:
                self.send_header("x-amzn-ErrorType", error_type)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
