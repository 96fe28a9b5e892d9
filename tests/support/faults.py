"""Partial failures for the store contract: writes that commit and still fail, reads that fail.

`LostAnswers` works below botocore's retry loop, so botocore's own retry logic decides to
send the request again, exactly as it does when DynamoDB commits a write and answers 500 or
the connection drops. `FlakyStore` does the same above any store, where nothing retries but
the client.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

COMMITTED_THEN = ("server-error", "connection-closed")


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


class LostAnswers:
    """The next `lose(n)` attempts of one operation reach the table and commit; their
    answer is then replaced by a 500 or a closed connection.

    It wraps the client's endpoint's per-attempt send (a private botocore method): the one
    layer under the retry loop that both moto in-process and a moto_server go through.
    """

    def __init__(self, client: Any, operation: str, fault: str) -> None:
        if fault not in COMMITTED_THEN:
            raise ValueError(fault)
        self._operation, self._fault, self._to_lose = operation, fault, 0
        self.attempts = 0
        self.tokens: list[str | None] = []  # each attempt's ClientRequestToken
        endpoint = client._endpoint
        self._send = endpoint._do_get_response
        endpoint._do_get_response = self._attempt

    def lose(self, count: int = 1) -> None:
        self._to_lose, self.attempts = count, 0
        self.tokens.clear()

    def _attempt(self, request: Any, operation_model: Any, context: Any) -> Any:
        result = self._send(request, operation_model, context)
        if operation_model.name != self._operation:
            return result
        self.attempts += 1
        self.tokens.append(json.loads(request.body).get("ClientRequestToken"))
        if self._to_lose == 0:
            return result
        success, exception = result
        if exception is not None or success[0].status_code != 200:
            raise AssertionError(f"the attempt to be lost did not commit: {result!r}")
        self._to_lose -= 1
        if self._fault == "connection-closed":
            return None, ConnectionClosedError(endpoint_url=request.url)
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}'
        response = AWSResponse(request.url, 500, {}, _Body(body))
        parsed = {
            "Error": {"Code": "InternalServerError", "Message": "lost after commit"},
            "ResponseMetadata": {"HTTPStatusCode": 500, "HTTPHeaders": {}},
        }
        return (response, parsed), None


class StoreFailure(Exception):
    """What a FlakyStore raises: an answer lost on the way back, a read that failed."""


class FlakyStore:
    """Any store, with failures scheduled: a write that commits and then raises, a member
    read or a connection read that raises. Everything else goes to the store as it is."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lose_after_commit: set[str] = set()
        self._member_reads_to_failure: int | None = None
        self._fail_a_connection_read = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def lose_next_answer(self, operation: str) -> None:
        self._lose_after_commit.add(operation)

    def fail_a_member_read(self, after: int = 0) -> None:
        """The member read after the next `after` ones fails (once)."""
        self._member_reads_to_failure = after

    def fail_a_connection_read(self) -> None:
        """The next `get` fails (once): a read-back after a lost answer, say."""
        self._fail_a_connection_read = True

    def get(self, *args: Any, **kwargs: Any) -> Any:
        if self._fail_a_connection_read:
            self._fail_a_connection_read = False
            raise StoreFailure("connection read failed")
        return self._store.get(*args, **kwargs)

    def join(self, *args: Any, **kwargs: Any) -> Any:
        return self._committed("join", self._store.join(*args, **kwargs))

    def leave(self, *args: Any, **kwargs: Any) -> Any:
        return self._committed("leave", self._store.leave(*args, **kwargs))

    def members(self, *args: Any, **kwargs: Any) -> Any:
        self._count_a_member_read()
        return self._store.members(*args, **kwargs)

    def room(self, *args: Any, **kwargs: Any) -> Any:
        """A room read is a member read (with the room's seq in the same request)."""
        self._count_a_member_read()
        return self._store.room(*args, **kwargs)

    def _count_a_member_read(self) -> None:
        if self._member_reads_to_failure == 0:
            self._member_reads_to_failure = None
            raise StoreFailure("member read failed")
        if self._member_reads_to_failure is not None:
            self._member_reads_to_failure -= 1

    def _committed(self, operation: str, result: Any) -> Any:
        if operation in self._lose_after_commit:
            self._lose_after_commit.discard(operation)
            raise StoreFailure(f"{operation} committed, then its answer was lost")
        return result
