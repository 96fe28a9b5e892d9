"""The part of the SAM transform (`AWS::Serverless-2016-10-31`) a WebSocket API needs.

CloudFormation runs the transform before anything else, so this does too, on the loaded
template: `Globals` are merged into each resource as SAM merges them, and
`AWS::Serverless::WebSocketApi` and `AWS::Serverless::SimpleTable` become the
`AWS::ApiGatewayV2::*` and `AWS::DynamoDB::Table` resources SAM generates for them (named as
SAM names them, e.g. `MyApiconnectRoute`). `AWS::Serverless::Function` stays as it is: the
gateway reads its `CodeUri`, `Handler`, `Runtime` and `Environment` directly.

Only entrypoints/gateway/template.py uses this module: it is part of reading the template.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

TRANSFORM = "AWS::Serverless-2016-10-31"
# Globals section -> the resource type it applies to.
GLOBALS = {
    "Function": "AWS::Serverless::Function",
    "SimpleTable": "AWS::Serverless::SimpleTable",
    "WebSocketApi": "AWS::Serverless::WebSocketApi",
}
DEFAULT_STAGE = "default"  # SAM's StageName when none is given
DEFAULT_EXPRESSION = "$request.body.action"
ATTRIBUTE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


def uses_transform(template: Mapping[str, Any]) -> bool:
    declared = template.get("Transform")
    names = declared if isinstance(declared, list) else [declared]
    return TRANSFORM in names


def transform(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation sees it after the SAM transform (for what serve reads)."""
    expanded = {k: copy.deepcopy(v) for k, v in template.items() if k != "Globals"}
    resources: dict[str, Any] = {}
    globals_ = template.get("Globals") or {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        resource = copy.deepcopy(resource)
        for section, kind in GLOBALS.items():
            if resource.get("Type") == kind and section in globals_:
                resource["Properties"] = merge(globals_[section], resource.get("Properties") or {})
        if resource.get("Type") == "AWS::Serverless::WebSocketApi":
            resources.update(_websocket_api(logical_id, resource))
        elif resource.get("Type") == "AWS::Serverless::SimpleTable":
            resources[logical_id] = _simple_table(resource)
        else:
            resources[logical_id] = resource
            if resource.get("Type") == "AWS::Serverless::Function":
                resources.update(_sqs_event_sources(logical_id, resource))
    expanded["Resources"] = resources
    return expanded


def merge(global_value: Any, local_value: Any) -> Any:
    """SAM's rule: maps merge (the resource's keys win), lists add up (globals first),
    anything else is the resource's; an intrinsic function is a value, never merged."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(local_value):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and any(k == "Ref" or k.startswith("Fn::") for k in value)


def _simple_table(resource: Mapping[str, Any]) -> dict[str, Any]:
    properties = resource.get("Properties") or {}
    key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    table: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": key["Name"], "AttributeType": ATTRIBUTE_TYPES[key["Type"]]}
        ],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
    }
    if "ProvisionedThroughput" in properties:
        table["BillingMode"] = "PROVISIONED"
        table["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
    else:
        table["BillingMode"] = "PAY_PER_REQUEST"
    for name in ("TableName", "SSESpecification", "Tags"):
        if name in properties:
            table[name] = properties[name]
    return {**_attributes(resource), "Type": "AWS::DynamoDB::Table", "Properties": table}


def _attributes(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource attributes generated resources inherit (a Condition above all)."""
    return {k: resource[k] for k in ("Condition", "DependsOn") if k in resource}


# An SQS event's properties that its AWS::Lambda::EventSourceMapping takes as they are.
SQS_EVENT_PROPERTIES = (
    "BatchSize", "Enabled", "FilterCriteria", "FunctionResponseTypes",
    "MaximumBatchingWindowInSeconds", "ScalingConfig",
)


def _sqs_event_sources(logical_id: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """The AWS::Lambda::EventSourceMapping SAM generates for each `Type: SQS` event of a
    function, named `{Function}{Event}` as SAM names it."""
    events = (resource.get("Properties") or {}).get("Events") or {}
    generated: dict[str, Any] = {}
    for event_id, event in events.items():
        if not isinstance(event, dict) or event.get("Type") != "SQS":
            continue
        properties = event.get("Properties") or {}
        mapping = {
            "EventSourceArn": properties.get("Queue"),
            "FunctionName": {"Ref": logical_id},
            **{name: properties[name] for name in SQS_EVENT_PROPERTIES if name in properties},
        }
        generated[f"{logical_id}{event_id}"] = {
            **_attributes(resource), "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": mapping,
        }
    return generated


def normalized(route_key: str) -> str:
    """A route key in a logical id: `$connect` -> `connect` (SAM's own normalization)."""
    return re.sub(r"[^A-Za-z0-9]", "", route_key)


def _websocket_api(logical_id: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resources SAM generates for an `AWS::Serverless::WebSocketApi`."""
    properties = resource.get("Properties") or {}
    inherited = _attributes(resource)
    api_ref = {"Ref": logical_id}
    stage_name = properties.get("StageName", DEFAULT_STAGE)
    stage_id = f"{logical_id}{normalized(stage_name) if isinstance(stage_name, str) else ''}Stage"
    api_properties = {
        "Name": properties.get("Name", logical_id),
        "ProtocolType": "WEBSOCKET",
        "RouteSelectionExpression": properties.get("RouteSelectionExpression", DEFAULT_EXPRESSION),
    }
    for name in ("ApiKeySelectionExpression", "Description", "DisableSchemaValidation"):
        if name in properties:
            api_properties[name] = properties[name]
    generated: dict[str, Any] = {
        logical_id: {**inherited, "Type": "AWS::ApiGatewayV2::Api", "Properties": api_properties},
        stage_id: {
            **inherited,
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": api_ref,
                "StageName": stage_name,
                "AutoDeploy": True,
                **{
                    name: properties[name]
                    for name in ("DefaultRouteSettings", "RouteSettings", "StageVariables",
                                 "AccessLogSettings")
                    if name in properties
                },
            },
        },
    }
    auth = properties.get("Auth") or {}
    auth_type = str(auth.get("AuthType", "NONE")).upper()
    authorizer_id = f"{logical_id}{normalized(str(auth.get('Name') or ''))}Authorizer"
    if auth_type == "CUSTOM":
        generated[authorizer_id] = {
            **inherited,
            "Type": "AWS::ApiGatewayV2::Authorizer",
            "Properties": {
                "ApiId": api_ref,
                "AuthorizerType": "REQUEST",
                "Name": auth.get("Name", authorizer_id),
                "AuthorizerUri": _invocation_uri(auth.get("AuthArn")),
                "IdentitySource": list(auth.get("IdentitySource") or []),
            },
        }
    for route_key, config in (properties.get("Routes") or {}).items():
        config = config or {}
        key = normalized(str(route_key))
        integration_id, route_id = f"{logical_id}{key}Integration", f"{logical_id}{key}Route"
        integration = {
            "ApiId": api_ref,
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": _invocation_uri(config.get("FunctionArn")),
        }
        if "IntegrationTimeout" in config:
            integration["TimeoutInMillis"] = config["IntegrationTimeout"]
        route: dict[str, Any] = {
            "ApiId": api_ref,
            "RouteKey": route_key,
            "Target": {"Fn::Sub": f"integrations/${{{integration_id}}}"},
        }
        for name in ("OperationName", "ApiKeyRequired", "RouteResponseSelectionExpression"):
            if name in config:
                route[name] = config[name]
        if route_key == "$connect" and auth_type in ("CUSTOM", "AWS_IAM"):
            route["AuthorizationType"] = auth_type
            if auth_type == "CUSTOM":
                route["AuthorizerId"] = {"Ref": authorizer_id}
        generated[integration_id] = {
            **inherited, "Type": "AWS::ApiGatewayV2::Integration", "Properties": integration,
        }
        generated[route_id] = {**inherited, "Type": "AWS::ApiGatewayV2::Route", "Properties": route}
    return generated


def _invocation_uri(function_arn: Any) -> dict[str, Any]:
    """API Gateway's Lambda invocation URI for a function ARN (a GetAtt, mostly)."""
    text = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
    return {"Fn::Sub": [text + "${FunctionArn}/invocations", {"FunctionArn": function_arn}]}
