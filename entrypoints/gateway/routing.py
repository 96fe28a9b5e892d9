"""The template's routes at run time: a frame's route key, and each route's imported Handler."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from roomcast.entrypoints.gateway.template import (
    TemplateError,
    route_definitions,
    route_selection_expression,
)

Handler = Callable[[dict[str, Any], Any], Any]

BODY_EXPRESSION = re.compile(r"^\$\{?request\.body\.([A-Za-z0-9_.$-]+?)\}?$")


@dataclass(frozen=True)
class Route:
    key: str
    function: str
    handler_name: str
    handler: Handler
    two_way: bool = False  # as in the template's RouteDefinition


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


HandlerFor = Callable[[str, str], Handler]  # (function logical id, its Handler) -> handler


def load_routes(template: Mapping[str, Any], handler_for: HandlerFor | None = None) -> RouteTable:
    """What runs locally is what deploys: the template's routes, each with its `Handler`
    (imported here, unless `handler_for` says where each function's handler runs)."""
    routes = {}
    for found in route_definitions(template):
        if handler_for is None:
            handler = import_handler(found.handler_name)
        else:
            handler = handler_for(found.function, found.handler_name)
        routes[found.key] = Route(
            found.key, found.function, found.handler_name, handler, found.two_way
        )
    return RouteTable(selection_expression=route_selection_expression(template), routes=routes)


def import_handler(dotted_name: str) -> Handler:
    module_name, _, attribute = dotted_name.rpartition(".")
    if not module_name:
        raise TemplateError(f"Handler {dotted_name!r} is not 'module.function'")
    handler = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(handler):
        raise TemplateError(f"Handler {dotted_name!r} is not a callable")
    return handler  # type: ignore[no-any-return]
