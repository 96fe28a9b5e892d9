"""docs/asyncapi.yaml as a validator: which documented message a raw frame is, or what is wrong.

A frame is looked up by its `action` (the protocol's discriminator) among the messages of
its direction, then validated against that message's JSON Schema. API Gateway's own error
frames have no `action`. Client frames larger than API Gateway's frame quota are refused by
the transport (close 1009) whatever their content.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
DOCUMENT_URI = "urn:roomcast:asyncapi"
FRAME_QUOTA_BYTES = 32 * 1024
GATEWAY_ERROR = "gatewayError"
# What the server sends to refuse a client frame (besides closing with 1009).
REFUSALS = frozenset({"error", GATEWAY_ERROR})


@dataclass(frozen=True)
class Verdict:
    message: str | None  # the documented message the frame is, None when it is none
    problem: str | None  # why it is not a valid frame of its direction, None when valid


class Protocol:
    def __init__(self, document: dict[str, Any]) -> None:
        registry: Registry[Any] = Registry().with_resource(
            DOCUMENT_URI, Resource.opaque(document)
        )
        messages = document["components"]["messages"]
        self._validators = {
            name: Draft7Validator(
                {"$ref": f"{DOCUMENT_URI}{message['payload']['$ref']}"}, registry=registry
            )
            for name, message in messages.items()
        }
        self.client_messages = _messages_of(document, "receive")
        self.server_messages = _messages_of(document, "send")

    def client_frame(self, raw: str | bytes) -> Verdict:
        if len(raw.encode() if isinstance(raw, str) else raw) > FRAME_QUOTA_BYTES:
            return Verdict(None, f"over the {FRAME_QUOTA_BYTES}-byte frame quota")
        return self._check(raw, self.client_messages)

    def server_frame(self, raw: str | bytes) -> Verdict:
        return self._check(raw, self.server_messages)

    def _check(self, raw: str | bytes, names: frozenset[str]) -> Verdict:
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError):
            return Verdict(None, "not JSON (or nested too deep to read)")
        if not isinstance(frame, dict):
            return Verdict(None, "not a JSON object")
        name = frame.get("action", GATEWAY_ERROR)
        if not isinstance(name, str) or name not in names:
            return Verdict(None, f"no documented message has action {name!r}")
        errors = sorted(self._validators[name].iter_errors(frame), key=str)
        return Verdict(name, f"{name}: {errors[0].message}" if errors else None)


def _messages_of(document: dict[str, Any], action: str) -> frozenset[str]:
    """Names of the messages the server's operations of this action carry."""
    return frozenset(
        reference["$ref"].rsplit("/", 1)[-1]
        for operation in document["operations"].values()
        if operation["action"] == action
        for reference in operation["messages"]
    )


@functools.cache
def protocol() -> Protocol:
    return Protocol(yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8")))
