"""The e2e template with the fidelity handlers and a two-way `echo` route (a `$default`
RouteResponse); `ping` stays one-way though its handler answers a body too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from roomcast.entrypoints.gateway.template import load_template
from tests.e2e.support import write_e2e_template


def write_fidelity_template(directory: Path) -> Path:
    template = load_template(write_e2e_template(directory))
    resources: dict[str, Any] = template["Resources"]
    for resource in resources.values():
        properties = resource.get("Properties", {})
        handler = properties.get("Handler")
        if isinstance(handler, str) and handler.startswith("tests.e2e.handlers."):
            properties["Handler"] = handler.replace("handlers.", "fidelity_handlers.")
    ping = next(r for r in resources.values() if r.get("Properties", {}).get("RouteKey") == "ping")
    resources["EchoRoute"] = {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {**ping["Properties"], "RouteKey": "echo", "OperationName": "Echo"},
    }
    resources["EchoRouteResponse"] = {
        "Type": "AWS::ApiGatewayV2::RouteResponse",
        "Properties": {
            "ApiId": {"Ref": "WebSocketApi"},
            "RouteId": {"Ref": "EchoRoute"},
            "RouteResponseKey": "$default",
        },
    }
    path = directory / "fidelity-template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return path
