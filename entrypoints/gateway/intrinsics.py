"""CloudFormation's intrinsic functions, resolved to the values they take on `roomcast serve`.

A deployed stack gives every `Ref` and `Fn::GetAtt` a physical value (a table's name, a
function's ARN, the API's id). Here each gets the local counterpart: the same table name
the local DynamoDB has, the gateway's own API id, and for the API's execute-api URLs the
gateway's own URL. What has no local counterpart (`Fn::ImportValue`, a resource type the
gateway does not emulate) raises `Unresolvable`, naming where it was met.

Only entrypoints/gateway/template.py uses this module: it is part of reading the template.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Unresolvable(ValueError):
    """An intrinsic function that a local run cannot give a value, and where it is."""


ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

# `https://{api}.execute-api.{region}.amazonaws.com` (or wss://): the API's endpoints on AWS.
EXECUTE_API_URL = re.compile(
    r"\b(?P<scheme>https|wss)://[A-Za-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?",
)
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
API_TYPES = ("AWS::ApiGatewayV2::Api", "AWS::Serverless::WebSocketApi")
# Resources whose Ref is an id of API Gateway's own making: a stand-in does.
API_PART_TYPES = (
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ApiGatewayV2::IntegrationResponse",
    "AWS::ApiGatewayV2::Model",
)
# A resource type -> the property that, when set, is its name (and its Ref).
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
}
QUEUE_TYPE = "AWS::SQS::Queue"


@dataclass(frozen=True)
class LocalStack:
    """What the template's names stand for on this machine."""

    resources: Mapping[str, Any]
    parameters: Mapping[str, Any]
    api_id: str
    stage: str
    # The gateway's own origins: ws://host:port and http://host:port (no stage).
    websocket_origin: str
    http_origin: str
    region: str = "us-east-1"
    stack_name: str = "local"
    mappings: Mapping[str, Any] = field(default_factory=dict)
    # Where the template's SQS queues are: the gateway's own emulation (its origin's
    # /@roomcast/queues when empty) or an SQS endpoint such as the embedded moto server.
    queue_endpoint: str = ""

    def queue_url(self, name: str) -> str:
        endpoint = self.queue_endpoint or f"{self.http_origin}/@roomcast/queues"
        return f"{endpoint.rstrip('/')}/{ACCOUNT_ID}/{name}"

    def pseudo(self, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{self.region}:{ACCOUNT_ID}:stack/"
                f"{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
        }
        return values[name]


class Resolver:
    """Resolves the intrinsic functions in one property value, or says where it cannot."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._function(key, argument, where)
            return {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, str):
            return self.localize(value)
        return value

    def text(self, value: Any, where: str) -> str:
        """A value that must be a string (an environment variable's, a table's name)."""
        resolved = self.resolve(value, where)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, (str, int, float)):
            return str(resolved)
        raise Unresolvable(f"{where}: expected a string, got {json.dumps(resolved)}")

    def localize(self, text: str) -> str:
        """The API's execute-api URLs point at the gateway (ws:// and http://)."""
        return EXECUTE_API_URL.sub(
            lambda m: self._stack.websocket_origin
            if m.group("scheme") == "wss"
            else self._stack.http_origin,
            text,
        )

    # -- the functions ------------------------------------------------------------

    def _function(self, key: str, argument: Any, where: str) -> Any:
        if key == "Ref":
            return self.ref(str(argument), where)
        if key == "Fn::GetAtt":
            target = argument if isinstance(argument, list) else str(argument).split(".", 1)
            if len(target) != 2:
                raise Unresolvable(f"{where}: Fn::GetAtt needs Resource.Attribute")
            return self.get_att(str(target[0]), str(self.resolve(target[1], where)), where)
        if key == "Fn::Sub":
            return self.localize(self._sub(argument, where))
        if key == "Fn::Join":
            delimiter, items = argument
            parts = self.resolve(items, where)
            return str(delimiter).join(self._scalar(part, where) for part in _as_list(parts, where))
        if key == "Fn::Select":
            index, items = argument
            chosen = _as_list(self.resolve(items, where), where)
            position = int(self.resolve(index, where))
            if not 0 <= position < len(chosen):
                raise Unresolvable(f"{where}: Fn::Select index {position} is out of range")
            return chosen[position]
        if key == "Fn::Split":
            delimiter, source = argument
            return self.text(source, where).split(str(delimiter))
        if key == "Fn::FindInMap":
            return self._find_in_map(argument, where)
        if key == "Fn::Base64":
            return base64.b64encode(self.text(argument, where).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{self._stack.region}{zone}" for zone in "abc"]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument, where), separators=(",", ":"))
        if key == "Fn::Length":
            return len(_as_list(self.resolve(argument, where), where))
        if key == "Fn::ImportValue":
            raise Unresolvable(
                f"{where}: Fn::ImportValue has no local value (no other stack exports here)"
            )
        raise Unresolvable(f"{where}: {key} cannot be resolved locally")

    def ref(self, name: str, where: str) -> Any:
        stack = self._stack
        if name.startswith("AWS::"):
            try:
                return stack.pseudo(name)
            except KeyError:
                raise Unresolvable(f"{where}: no pseudo parameter {name}") from None
        if name in stack.parameters:
            return stack.parameters[name]
        resource = stack.resources.get(name)
        if resource is None:
            raise Unresolvable(f"{where}: Ref {name} names no parameter or resource")
        kind = str(resource.get("Type"))
        if kind in API_TYPES:
            return stack.api_id
        if kind == "AWS::ApiGatewayV2::Stage":
            return self.text(resource.get("Properties", {}).get("StageName"), f"{name}.StageName")
        if kind in API_PART_TYPES:
            return name.lower()[:10]
        if kind == QUEUE_TYPE:  # a queue's Ref is its URL
            return stack.queue_url(self.physical_name(name))
        if kind in NAME_PROPERTIES:
            return self.physical_name(name)
        raise Unresolvable(
            f"{where}: Ref {name} ({kind}) has no local value: roomcast serve emulates "
            "DynamoDB tables, SQS queues, Lambda functions and the WebSocket API only"
        )

    def physical_name(self, logical_id: str) -> str:
        """The name a resource is given: its own name property, or a stack-made one."""
        resource = self._stack.resources[logical_id]
        kind = str(resource.get("Type"))
        own = resource.get("Properties", {}).get(NAME_PROPERTIES.get(kind, ""))
        if own is not None:
            return self.text(own, f"{logical_id}.{NAME_PROPERTIES[kind]}")
        fifo = kind == QUEUE_TYPE and resource.get("Properties", {}).get("FifoQueue") in (
            True, "true", "True",
        )
        return f"{self._stack.stack_name}-{logical_id}" + (".fifo" if fifo else "")

    def get_att(self, name: str, attribute: str, where: str) -> Any:
        stack = self._stack
        resource = stack.resources.get(name)
        if resource is None:
            raise Unresolvable(f"{where}: Fn::GetAtt {name}.{attribute} names no resource")
        kind = str(resource.get("Type"))
        region, account = stack.region, ACCOUNT_ID
        if kind in TABLE_TYPES and attribute in ("Arn", "StreamArn"):
            arn = f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{self.physical_name(name)}"
            return arn if attribute == "Arn" else f"{arn}/stream/1970-01-01T00:00:00.000"
        if kind in FUNCTION_TYPES and attribute == "Arn":
            function = self.physical_name(name)
            return f"arn:{PARTITION}:lambda:{region}:{account}:function:{function}"
        if kind in API_TYPES and attribute == "ApiEndpoint":
            # AWS-shaped, so that code turning wss:// into https:// still works: the call
            # reaches the gateway all the same (function_worker.py).
            return f"wss://{stack.api_id}.execute-api.{region}.{URL_SUFFIX}"
        if kind in API_TYPES and attribute == "ApiId":
            return stack.api_id
        if kind == QUEUE_TYPE and attribute in ("Arn", "QueueName", "QueueUrl"):
            queue = self.physical_name(name)
            if attribute == "Arn":
                return f"arn:{PARTITION}:sqs:{region}:{account}:{queue}"
            return queue if attribute == "QueueName" else stack.queue_url(queue)
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:{PARTITION}:iam::{account}:role/{self.physical_name(name)}"
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            group = self.physical_name(name)
            return f"arn:{PARTITION}:logs:{region}:{account}:log-group:{group}:*"
        raise Unresolvable(
            f"{where}: Fn::GetAtt {name}.{attribute} ({kind}) has no local value"
        )

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            template, variables = argument[0], dict(argument[1] or {})
        else:
            template, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):  # ${!Literal} stays ${Literal}
                return "${" + inner[1:] + "}"
            if inner in variables:
                return self._scalar(self.resolve(variables[inner], f"{where}.{inner}"), where)
            if "." in inner and not inner.startswith("AWS::"):
                resource, attribute = inner.split(".", 1)
                return self._scalar(self.get_att(resource, attribute, where), where)
            return self._scalar(self.ref(inner, where), where)

        return SUB_VARIABLE.sub(replace, str(template))

    def _find_in_map(self, argument: Any, where: str) -> Any:
        map_name, top, second = (self.text(part, where) for part in argument[:3])
        try:
            return self._stack.mappings[map_name][top][second]
        except (KeyError, TypeError):
            raise Unresolvable(
                f"{where}: Fn::FindInMap {map_name}/{top}/{second} is not in Mappings"
            ) from None

    def _scalar(self, value: Any, where: str) -> str:
        if isinstance(value, list):
            return ",".join(self._scalar(v, where) for v in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise Unresolvable(f"{where}: {json.dumps(value)} is not a string")


def _as_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):  # a CommaDelimitedList parameter's Ref
        return value.split(",")
    raise Unresolvable(f"{where}: expected a list, got {json.dumps(value)}")
