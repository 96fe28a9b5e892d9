"""What the gateway reads in the template: parameters, conditions, table, routes, authorizer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from roomcast.entrypoints.gateway import sam
from roomcast.entrypoints.gateway.intrinsics import LocalStack, Resolver

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
    """The template as CloudFormation reads it: YAML (short forms included) or JSON, with
    the SAM transform applied when it declares `Transform: AWS::Serverless-2016-10-31`."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_TemplateLoader)
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return sam.transform(document) if sam.uses_transform(document) else document


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


class ParameterError(ValueError):
    """A parameter value the template refuses, as CloudFormation would refuse the stack."""


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


def check_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    """CloudFormation's checks of a parameter value: a Number (each item of a
    List<Number>) is a number within MinValue/MaxValue; a String's length is within
    MinLength/MaxLength; the value (each item of a list) is one of AllowedValues and
    matches AllowedPattern in full. Each failure names the parameter and the rule."""
    kind = str(spec.get("Type", "String"))
    is_list = kind.startswith("List<") or kind == "CommaDelimitedList"
    items = value.split(",") if is_list else [value]
    shown = "****" if _truthy(spec.get("NoEcho")) else repr(value)
    constraint = spec.get("ConstraintDescription")

    def refuse(problem: str) -> ParameterError:
        described = f" ({constraint})" if constraint else ""
        return ParameterError(f"{name} {shown} {problem}{described}")

    for item in items:
        if kind in ("Number", "List<Number>"):
            if not NUMBER.fullmatch(item.strip()):
                raise refuse(f"is not a number (its Type is {kind})")
            number = Decimal(item.strip())
            if "MinValue" in spec and number < Decimal(str(spec["MinValue"])):
                raise refuse(f"is less than its MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > Decimal(str(spec["MaxValue"])):
                raise refuse(f"is more than its MaxValue {spec['MaxValue']}")
        allowed = [_text(choice) for choice in spec.get("AllowedValues", [])]
        if allowed and item not in allowed:
            raise refuse(f"is not one of its AllowedValues ({', '.join(allowed)})")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not _matches(name, str(pattern), item):
            raise refuse(f"does not match its AllowedPattern {pattern}")
    if kind == "String":
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            raise refuse(f"is shorter than its MinLength {spec['MinLength']}")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            raise refuse(f"is longer than its MaxLength {spec['MaxLength']}")


def _matches(name: str, pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error as error:  # CloudFormation's are Java regexes; most read the same
        raise ParameterError(f"{name}'s AllowedPattern {pattern} cannot be read: {error}") from None


def _text(value: Any) -> str:
    """A YAML scalar as CloudFormation reads it: `true` stays `true`, 14 is "14"."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def with_parameters(
    template: dict[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The template as a stack with these parameter values would have it: `Conditions`
    evaluated, resources and outputs under a false condition left out, `Fn::If` and
    `AWS::NoValue` resolved. Other intrinsics are kept as they are. An override the
    template does not declare, or does not allow, raises ParameterError."""
    declared, overrides = template.get("Parameters", {}), dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ParameterError(f"the template has no parameter {', '.join(unknown)}")
    for name, value in overrides.items():
        check_parameter(name, declared[name], str(value))
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
        if referenced_ids(properties.get("ApiId")) not in ([api_id], []):
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
            answered.update(referenced_ids(properties.get("RouteId")))
    return answered


def _route_definition(
    resources: Mapping[str, Any], logical_id: str, properties: Mapping[str, Any], two_way: bool
) -> RouteDefinition:
    key = str(properties.get("RouteKey"))
    integration_id = _single_reference(properties.get("Target"), f"route {logical_id} Target")
    integration = resources.get(integration_id, {}).get("Properties", {})
    functions = [
        found for found in referenced_ids(integration.get("IntegrationUri"))
        if resources.get(found, {}).get("Type") in LAMBDA_FUNCTION_TYPES
    ]
    if len(functions) != 1:
        raise TemplateError(f"integration {integration_id} does not target a Lambda function")
    function_id = functions[0]
    function = resources[function_id]
    handler_name = str(function.get("Properties", {}).get("Handler", ""))
    return RouteDefinition(key, function_id, handler_name, two_way)


def _single_reference(value: Any, where: str) -> str:
    referenced = referenced_ids(value)
    if len(referenced) != 1:
        raise TemplateError(f"{where}: expected one resource reference, found {referenced}")
    return referenced[0]


def referenced_ids(value: Any) -> list[str]:
    """Logical ids named by Ref, GetAtt or ${...} in Sub, anywhere inside `value`."""
    if isinstance(value, dict):
        if "Ref" in value:
            return [] if str(value["Ref"]).startswith("AWS::") else [str(value["Ref"])]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return [str(target[0] if isinstance(target, list) else target.split(".")[0])]
        if "Fn::Sub" in value:
            return _sub_references(value["Fn::Sub"])
        return [found for item in value.values() for found in referenced_ids(item)]
    if isinstance(value, list):
        return [found for item in value for found in referenced_ids(item)]
    return []


def _sub_references(sub: Any) -> list[str]:
    text, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
    found: list[str] = []
    for name in SUB_REFERENCE.findall(str(text)):
        found.extend(referenced_ids(variables[name]) if name in variables else [name])
    return found


@dataclass(frozen=True)
class AuthorizerDefinition:
    """The Lambda REQUEST authorizer the template puts on `$connect`."""

    handler_name: str
    identity_sources: tuple[str, ...]
    function: str = ""  # the function's logical id


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
    authorizer_id = _single_reference(route.get("AuthorizerId"), "the $connect AuthorizerId")
    authorizer = resources.get(authorizer_id, {}).get("Properties", {})
    named = [
        found for found in referenced_ids(authorizer.get("AuthorizerUri"))
        if resources.get(found, {}).get("Type") in LAMBDA_FUNCTION_TYPES
    ]
    if len(named) != 1:
        raise ValueError("the $connect authorizer's AuthorizerUri names no function")
    handler_name = str(resources[named[0]].get("Properties", {}).get("Handler", ""))
    sources = tuple(str(s) for s in authorizer.get("IdentitySource", []))
    return AuthorizerDefinition(handler_name, sources, named[0])


# -- what a local run gives the template's names ------------------------------------

DEFAULT_FUNCTION_TIMEOUT = 3.0  # Lambda's, and SAM's, when a function sets none
DEFAULT_MEMORY_MB = 128


def stage_name(template: Mapping[str, Any]) -> Any:
    """The WebSocket API's stage as the template names it (a string or an intrinsic)."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    api_id, _ = _websocket_api(resources)
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if (
            resource.get("Type") in ("AWS::ApiGatewayV2::Stage", "AWS::ApiGatewayV2::Deployment")
            and "StageName" in properties
            and api_id in referenced_ids(properties.get("ApiId"))
        ):
            return properties["StageName"]
    raise TemplateError("the WebSocket API has no AWS::ApiGatewayV2::Stage: pass --stage")


def stage_parameter(template: Mapping[str, Any]) -> str | None:
    """The parameter the stage's name is, when it is `!Ref` of one."""
    try:
        name = stage_name(template)
    except TemplateError:
        return None
    if isinstance(name, dict) and set(name) == {"Ref"}:
        parameter = str(name["Ref"])
        return parameter if parameter in template.get("Parameters", {}) else None
    return None


def parameter_values(template: Mapping[str, Any]) -> dict[str, Any]:
    """Each parameter's value (its Default once `with_parameters` applied the overrides);
    a list type's is a list, as its Ref is."""
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        value = spec.get("Default", "")
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            value = [part.strip() for part in str(value).split(",")] if value != "" else []
        elif isinstance(value, bool):
            value = "true" if value else "false"
        else:
            value = str(value)
        values[name] = value
    return values


def local_stack(
    template: Mapping[str, Any], **names: Any
) -> Resolver:
    """A resolver of the template's intrinsics to this machine's values (`LocalStack`'s)."""
    stack = LocalStack(
        resources=template.get("Resources", {}),
        parameters=parameter_values(template),
        mappings=template.get("Mappings", {}),
        **names,
    )
    return Resolver(stack)


@dataclass(frozen=True)
class FunctionCode:
    """Where a function's code is: a local folder or zip, inline code, or neither here."""

    kind: str  # "folder", "zip", "inline" or "elsewhere" (S3, an image, a missing path)
    path: Path | None = None
    inline: str | None = None


@dataclass(frozen=True)
class FunctionDefinition:
    """A Lambda function as the template declares it (intrinsics not yet resolved)."""

    logical_id: str
    handler_name: str
    code: FunctionCode
    runtime: str | None
    timeout_seconds: float
    memory_mb: int
    environment: Mapping[str, Any]
    properties: Mapping[str, Any]


def function_definition(
    template: Mapping[str, Any], logical_id: str, template_dir: Path
) -> FunctionDefinition:
    resource = template.get("Resources", {}).get(logical_id, {})
    if resource.get("Type") not in LAMBDA_FUNCTION_TYPES:
        raise TemplateError(f"{logical_id} is not a Lambda function")
    properties: Mapping[str, Any] = resource.get("Properties", {})
    if properties.get("PackageType") == "Image":
        raise TemplateError(f"{logical_id} is a container image: roomcast serve runs zip functions")
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    if not isinstance(variables, dict):
        raise TemplateError(f"{logical_id} Environment.Variables: expected a map")
    return FunctionDefinition(
        logical_id=logical_id,
        handler_name=str(properties.get("Handler", "")),
        code=_function_code(properties, template_dir),
        runtime=str(properties["Runtime"]) if "Runtime" in properties else None,
        timeout_seconds=float(properties.get("Timeout", DEFAULT_FUNCTION_TIMEOUT)),
        memory_mb=int(properties.get("MemorySize", DEFAULT_MEMORY_MB)),
        environment=variables,
        properties=properties,
    )


def _function_code(properties: Mapping[str, Any], template_dir: Path) -> FunctionCode:
    """`CodeUri`/`InlineCode` (SAM) or `Code` (CloudFormation): a local path is relative to
    the template, as `sam build` and `aws cloudformation package` take it."""
    if isinstance(properties.get("InlineCode"), str):
        return FunctionCode("inline", inline=properties["InlineCode"])
    code = properties.get("CodeUri", properties.get("Code"))
    if isinstance(code, dict) and isinstance(code.get("ZipFile"), str):
        return FunctionCode("inline", inline=code["ZipFile"])
    if not isinstance(code, str) or code.startswith("s3://"):
        return FunctionCode("elsewhere")
    path = (template_dir / code).resolve()
    if path.is_dir():
        return FunctionCode("folder", path)
    if path.is_file() and path.suffix == ".zip":
        return FunctionCode("zip", path)
    return FunctionCode("elsewhere", path)


@dataclass(frozen=True)
class TableDefinition:
    logical_id: str
    name: str
    create_arguments: Mapping[str, Any]  # CreateTable's, TableName included
    ttl_attribute: str | None


TABLE_ARGUMENTS = (
    "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
    "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification",
)


def table_definitions(template: Mapping[str, Any], resolver: Resolver) -> list[TableDefinition]:
    """Every DynamoDB table of the template (SimpleTables became tables in `sam.transform`),
    as CreateTable and UpdateTimeToLive take it."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        properties = resolver.resolve(resource.get("Properties", {}), logical_id)
        name = resolver.physical_name(logical_id)
        arguments = {k: properties[k] for k in TABLE_ARGUMENTS if k in properties}
        arguments.setdefault("BillingMode", "PAY_PER_REQUEST")
        if arguments["BillingMode"] == "PAY_PER_REQUEST":
            arguments.pop("ProvisionedThroughput", None)
            for index in arguments.get("GlobalSecondaryIndexes", []):
                index.pop("ProvisionedThroughput", None)
        if "StreamSpecification" in arguments:
            stream = arguments["StreamSpecification"]
            arguments["StreamSpecification"] = {"StreamEnabled": True, **stream}
        ttl = properties.get("TimeToLiveSpecification") or {}
        enabled = ttl.get("Enabled") in (True, "true", "True")
        found.append(TableDefinition(
            logical_id, name, {"TableName": name, **arguments},
            str(ttl["AttributeName"]) if enabled and "AttributeName" in ttl else None,
        ))
    return found

