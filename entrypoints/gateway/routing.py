"""Routes from the CloudFormation template: route key -> integration -> function -> Handler.

What runs locally is what deploys: the gateway reads the WebSocket API's route selection
expression, its routes and their Lambda integrations from the same template, and imports
each function's `Handler` by its dotted name.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]

SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")
BODY_EXPRESSION = re.compile(r"^\$\{?request\.body\.([A-Za-z0-9_.$-]+?)\}?$")
DEFAULT_EXPRESSION = "$request.body.action"


class TemplateError(ValueError):
    """The template lacks something the gateway needs to route a request."""


@dataclass(frozen=True)
class Route:
    key: str
    function: str
    handler_name: str
    handler: Handler
    # A two-way route: it has a `$default` RouteResponse, so the integration's body goes back
    # to the client. Without one, API Gateway sends the client nothing.
    two_way: bool = False


@dataclass(frozen=True)
class RouteTable:
    selection_expression: str
    routes: Mapping[str, Route]

    def select(self, body: str | None) -> Route | None:
        """The route API Gateway would pick for a message body; $default when nothing matches."""
        key = route_key_for(body, self.selection_expression)
        chosen = self.routes.get(key) if key is not None and not key.startswith("$") else None
        return chosen or self.routes.get("$default")

    def get(self, key: str) -> Route | None:
        return self.routes.get(key)


def route_key_for(body: str | None, expression: str) -> str | None:
    """Evaluate `$request.body.<path>` on a body: a string value is a route key, else None."""
    match = BODY_EXPRESSION.match(expression.strip())
    if match is None or body is None:
        return None
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting is just another non-match
        return None
    for part in match.group(1).split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if isinstance(value, str) else None


def load_routes(template: Mapping[str, Any]) -> RouteTable:
    resources: Mapping[str, Any] = template.get("Resources", {})
    api_id, api = _websocket_api(resources)
    two_way = _routes_with_a_response(resources)
    routes = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Route":
            continue
        properties = resource.get("Properties", {})
        if _referenced_ids(properties.get("ApiId")) not in ([api_id], []):
            continue
        route = _route(resources, logical_id, properties, logical_id in two_way)
        routes[route.key] = route
    expression = api.get("Properties", {}).get("RouteSelectionExpression", DEFAULT_EXPRESSION)
    return RouteTable(selection_expression=str(expression), routes=routes)


def _websocket_api(resources: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if (
            resource.get("Type") == "AWS::ApiGatewayV2::Api"
            and properties.get("ProtocolType") == "WEBSOCKET"
        ):
            return logical_id, resource
    raise TemplateError("no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET")


def _routes_with_a_response(resources: Mapping[str, Any]) -> set[str]:
    """Logical ids of the routes that have a RouteResponse under the `$default` key."""
    answered: set[str] = set()
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if (
            resource.get("Type") == "AWS::ApiGatewayV2::RouteResponse"
            and properties.get("RouteResponseKey") == "$default"
        ):
            answered.update(_referenced_ids(properties.get("RouteId")))
    return answered


def _route(
    resources: Mapping[str, Any], logical_id: str, properties: Mapping[str, Any], two_way: bool
) -> Route:
    key = str(properties.get("RouteKey"))
    integration_id = _single_reference(properties.get("Target"), f"route {logical_id} Target")
    integration = resources.get(integration_id, {}).get("Properties", {})
    function_id = _single_reference(
        integration.get("IntegrationUri"), f"integration {integration_id} IntegrationUri"
    )
    function = resources.get(function_id, {})
    if function.get("Type") not in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
        raise TemplateError(f"integration {integration_id} does not target a Lambda function")
    handler_name = str(function.get("Properties", {}).get("Handler", ""))
    return Route(key, function_id, handler_name, import_handler(handler_name), two_way)


def import_handler(dotted_name: str) -> Handler:
    module_name, _, attribute = dotted_name.rpartition(".")
    if not module_name:
        raise TemplateError(f"Handler {dotted_name!r} is not 'module.function'")
    handler = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(handler):
        raise TemplateError(f"Handler {dotted_name!r} is not a callable")
    return handler  # type: ignore[no-any-return]


def _single_reference(value: Any, where: str) -> str:
    referenced = _referenced_ids(value)
    if len(referenced) != 1:
        raise TemplateError(f"{where}: expected one resource reference, found {referenced}")
    return referenced[0]


def _referenced_ids(value: Any) -> list[str]:
    """Logical ids named by Ref, GetAtt or ${...} in Sub, anywhere inside `value`."""
    if isinstance(value, dict):
        if "Ref" in value:
            return [str(value["Ref"])]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return [str(target[0] if isinstance(target, list) else target.split(".")[0])]
        if "Fn::Sub" in value:
            return _sub_references(value["Fn::Sub"])
        return [found for item in value.values() for found in _referenced_ids(item)]
    if isinstance(value, list):
        return [found for item in value for found in _referenced_ids(item)]
    return []


def _sub_references(sub: Any) -> list[str]:
    text, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
    found: list[str] = []
    for name in SUB_REFERENCE.findall(str(text)):
        found.extend(_referenced_ids(variables[name]) if name in variables else [name])
    return found
