"""What the gateway reads in the template: parameters, conditions, table, routes, authorizer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# A built wheel carries a copy of infra/template.yaml in this package (setup.py puts it
# there); a source checkout, editable install included, reads infra/ itself.
PACKAGED_TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
SOURCE_TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
DEFAULT_TEMPLATE = PACKAGED_TEMPLATE if PACKAGED_TEMPLATE.is_file() else SOURCE_TEMPLATE
CONNECTIONS_TABLE = "ConnectionsTable"

_SHORT_FORMS = (
    "Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "ImportValue", "GetAZs", "Base64", "Cidr", "Condition",
)


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that understands `!Ref x` as `{"Ref": "x"}`, `!GetAtt a.b` as a list, etc."""


def _construct(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    key = "Ref" if tag == "Ref" or tag == "Condition" else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in _SHORT_FORMS:
    _TemplateLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: str | Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_TemplateLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return document


def table_definition(
    template: dict[str, Any], logical_id: str = CONNECTIONS_TABLE
) -> dict[str, Any]:
    """The table's CreateTable arguments (key schema, attributes, billing), minus CFN-only parts."""
    properties = template["Resources"][logical_id]["Properties"]
    return {
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        **(
            {"GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"]}
            if "GlobalSecondaryIndexes" in properties
            else {}
        ),
    }


def ttl_attribute(template: dict[str, Any], logical_id: str = CONNECTIONS_TABLE) -> str:
    ttl = template["Resources"][logical_id]["Properties"]["TimeToLiveSpecification"]
    return str(ttl["AttributeName"])


def table_name(
    template: Mapping[str, Any], stage: str, logical_id: str = CONNECTIONS_TABLE
) -> str:
    """The table's name as CloudFormation would make it for this stage (Sub of parameters)."""
    table = template.get("Resources", {}).get(logical_id, {})
    name = table.get("Properties", {}).get("TableName")
    if isinstance(name, str):
        return name
    text = name.get("Fn::Sub") if isinstance(name, dict) else None
    if not isinstance(text, str):
        return "roomcast-connections"
    values = _parameter_values(template, stage)
    return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(1)), text)


def _parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(spec.get("Default", ""))
        for name, spec in template.get("Parameters", {}).items()
    }


def _parameter_values(template: Mapping[str, Any], stage: str) -> dict[str, str]:
    """Parameter defaults, with the one that names the stage set to `stage`."""
    values = _parameter_defaults(template)
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::ApiGatewayV2::Stage":
            stage_name = resource.get("Properties", {}).get("StageName")
            if isinstance(stage_name, dict) and "Ref" in stage_name:
                values[str(stage_name["Ref"])] = stage
    return values


_NO_VALUE = object()


def with_parameters(
    template: dict[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The template as a stack with these parameter values would have it: `Conditions`
    evaluated, resources and outputs under a false condition left out, `Fn::If` and
    `AWS::NoValue` resolved. Other intrinsics are kept as they are."""
    declared, overrides = template.get("Parameters", {}), dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ValueError(f"the template has no parameter {', '.join(unknown)}")
    values = _parameter_defaults(template)
    values.update({name: str(value) for name, value in overrides.items()})
    conditions = _Conditions(template.get("Conditions", {}), values)
    resolved = {key: value for key, value in template.items() if key != "Conditions"}
    resolved["Parameters"] = {
        name: {**spec, "Default": overrides[name]} if name in overrides else spec
        for name, spec in declared.items()
    }
    for section in ("Resources", "Outputs"):
        if section in template:
            resolved[section] = {
                name: conditions.resolve({k: v for k, v in body.items() if k != "Condition"})
                for name, body in template[section].items()
                if "Condition" not in body or conditions.holds(body["Condition"])
            }
    return resolved


class _Conditions:
    def __init__(self, declared: Mapping[str, Any], values: Mapping[str, str]) -> None:
        self._declared, self._values = declared, values
        self._known: dict[str, bool] = {}

    def holds(self, name: str) -> bool:
        if name not in self._known:
            self._known[name] = self._evaluate(self._declared[name])
        return self._known[name]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if "Fn::If" in node:
                name, when_true, when_false = node["Fn::If"]
                return self.resolve(when_true if self.holds(name) else when_false)
            if node == {"Ref": "AWS::NoValue"}:
                return _NO_VALUE
            pairs = ((key, self.resolve(value)) for key, value in node.items())
            return {key: value for key, value in pairs if value is not _NO_VALUE}
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if item is not _NO_VALUE]
        return node

    def _evaluate(self, node: Any) -> bool:
        (function, argument), = node.items()
        if function == "Ref":  # the loader reads `!Condition X` as {"Ref": X}
            return self.holds(argument)
        if function == "Fn::Equals":
            left, right = (self._value(side) for side in argument)
            return left == right
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(part) for part in argument)
        if function == "Fn::Or":
            return any(self._evaluate(part) for part in argument)
        raise ValueError(f"cannot evaluate the condition function {function}")

    def _value(self, node: Any) -> str:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return self._values[node["Ref"]]
        return str(node)


def parameter_environment(
    template: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, str]:
    """The variables the template's functions take straight from an overridden parameter
    (`NAME: !Ref Parameter` in a function's `Environment.Variables`, once `with_parameters`
    has resolved its conditions), set to the value given: what a stack deployed with those
    parameters would give its functions. Parameters left at their defaults set nothing, so
    the gateway's own environment still decides them. Every function runs in the one
    process: a variable two functions take from different overridden parameters is an
    error."""
    found: dict[str, tuple[str, str]] = {}
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") not in LAMBDA_FUNCTION_TYPES:
            continue
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            parameter = value.get("Ref") if isinstance(value, dict) and len(value) == 1 else None
            if not isinstance(parameter, str) or parameter not in overrides:
                continue
            earlier = found.setdefault(name, (parameter, str(overrides[parameter])))
            if earlier[0] != parameter:
                raise TemplateError(
                    f"{name} is set from both {earlier[0]} and {parameter}: one process "
                    "cannot give each function its own"
                )
    return {name: value for name, (_, value) in found.items()}


SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")
DEFAULT_EXPRESSION = "$request.body.action"
LAMBDA_FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


class TemplateError(ValueError):
    """The template lacks something the gateway needs to route a request."""


@dataclass(frozen=True)
class RouteDefinition:
    """A WebSocket route as the template declares it: route key -> integration -> function."""

    key: str
    function: str  # the function's logical id
    handler_name: str  # its `Handler`, a dotted name
    # A two-way route: it has a `$default` RouteResponse, so the integration's body goes back
    # to the client. Without one, API Gateway sends the client nothing.
    two_way: bool


def route_selection_expression(template: Mapping[str, Any]) -> str:
    _, api = _websocket_api(template.get("Resources", {}))
    return str(api.get("Properties", {}).get("RouteSelectionExpression", DEFAULT_EXPRESSION))


def route_definitions(template: Mapping[str, Any]) -> Iterator[RouteDefinition]:
    """The WebSocket API's routes, in order; a broken one raises TemplateError once reached."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    api_id, _ = _websocket_api(resources)
    two_way = _routes_with_a_response(resources)
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Route":
            continue
        properties = resource.get("Properties", {})
        if _referenced_ids(properties.get("ApiId")) not in ([api_id], []):
            continue
        yield _route_definition(resources, logical_id, properties, logical_id in two_way)


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


def _route_definition(
    resources: Mapping[str, Any], logical_id: str, properties: Mapping[str, Any], two_way: bool
) -> RouteDefinition:
    key = str(properties.get("RouteKey"))
    integration_id = _single_reference(properties.get("Target"), f"route {logical_id} Target")
    integration = resources.get(integration_id, {}).get("Properties", {})
    function_id = _single_reference(
        integration.get("IntegrationUri"), f"integration {integration_id} IntegrationUri"
    )
    function = resources.get(function_id, {})
    if function.get("Type") not in LAMBDA_FUNCTION_TYPES:
        raise TemplateError(f"integration {integration_id} does not target a Lambda function")
    handler_name = str(function.get("Properties", {}).get("Handler", ""))
    return RouteDefinition(key, function_id, handler_name, two_way)


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


FUNCTION_ARN = re.compile(r"functions/\$\{([A-Za-z0-9]+)\.Arn\}")


@dataclass(frozen=True)
class AuthorizerDefinition:
    """The Lambda REQUEST authorizer the template puts on `$connect`."""

    handler_name: str
    identity_sources: tuple[str, ...]


def connect_authorizer_definition(template: Mapping[str, Any]) -> AuthorizerDefinition | None:
    """The authorizer on the `$connect` route of a template whose conditions are resolved."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    route: Mapping[str, Any] = next(
        (r.get("Properties", {}) for r in resources.values()
         if r.get("Type") == "AWS::ApiGatewayV2::Route"
         and r.get("Properties", {}).get("RouteKey") == "$connect"),
        {},
    )
    if route.get("AuthorizationType") != "CUSTOM":
        return None
    authorizer = resources[route["AuthorizerId"]["Ref"]]["Properties"]
    uri = authorizer["AuthorizerUri"]
    found = FUNCTION_ARN.search(str(uri.get("Fn::Sub") if isinstance(uri, dict) else uri))
    if found is None:
        raise ValueError("the $connect authorizer's AuthorizerUri names no function")
    handler_name = str(resources[found.group(1)]["Properties"]["Handler"])
    sources = tuple(str(s) for s in authorizer.get("IdentitySource", []))
    return AuthorizerDefinition(handler_name, sources)
