"""Reading any template: SAM's Globals and generated resources, and intrinsics resolved to
the values they take on `roomcast serve` (no process, no socket, no boto3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from roomcast.entrypoints.gateway import sam
from roomcast.entrypoints.gateway.intrinsics import Unresolvable
from roomcast.entrypoints.gateway.template import (
    connect_authorizer_definition,
    function_definition,
    load_template,
    local_stack,
    route_definitions,
    route_selection_expression,
    stage_name,
    table_definitions,
    with_parameters,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"


def resolver_for(template, **overrides):
    names = {
        "api_id": "abc123",
        "stage": "prod",
        "websocket_origin": "ws://127.0.0.1:9000",
        "http_origin": "http://127.0.0.1:9000",
        "region": "eu-west-1",
        "stack_name": "app",
        **overrides,
    }
    return local_stack(template, **names)


class TestSamGlobals:
    def test_maps_merge_lists_add_up_and_the_resource_wins(self):
        merged = sam.merge(
            {"Timeout": 3, "Environment": {"Variables": {"A": "1", "B": "2"}}, "Layers": ["g"]},
            {"Timeout": 10, "Environment": {"Variables": {"B": "x"}}, "Layers": ["l"]},
        )
        assert merged == {
            "Timeout": 10, "Environment": {"Variables": {"A": "1", "B": "x"}}, "Layers": ["g", "l"]
        }

    def test_an_intrinsic_is_a_value_not_a_map_to_merge(self):
        assert sam.merge({"Variables": {"A": "1"}}, {"Fn::If": ["C", {}, {}]}) == {
            "Fn::If": ["C", {}, {}]
        }

    def test_globals_reach_every_serverless_function(self):
        template = sam.transform({
            "Transform": sam.TRANSFORM,
            "Globals": {"Function": {"Runtime": "python3.12", "Handler": "handler.handle"}},
            "Resources": {
                "F": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "f/"}},
                "T": {"Type": "AWS::SQS::Queue"},
            },
        })
        assert template["Resources"]["F"]["Properties"] == {
            "Runtime": "python3.12", "Handler": "handler.handle", "CodeUri": "f/"
        }
        assert "Globals" not in template


class TestSamResources:
    TEMPLATE: ClassVar[dict[str, Any]] = {
        "Transform": sam.TRANSFORM,
        "Resources": {
            "Api": {
                "Type": "AWS::Serverless::WebSocketApi",
                "Properties": {
                    "Auth": {"AuthType": "CUSTOM", "AuthArn": {"Fn::GetAtt": ["Auth", "Arn"]},
                             "IdentitySource": ["route.request.header.Authorization"]},
                    "Routes": {
                        "$connect": {"FunctionArn": {"Fn::GetAtt": ["Connect", "Arn"]}},
                        "send": {"FunctionArn": {"Fn::GetAtt": ["Send", "Arn"]}},
                    },
                },
            },
            **{
                name: {"Type": "AWS::Serverless::Function",
                       "Properties": {"Handler": f"{name.lower()}.handler", "CodeUri": "."}}
                for name in ("Auth", "Connect", "Send")
            },
            "Table": {"Type": "AWS::Serverless::SimpleTable"},
        },
    }

    def test_a_websocketapi_becomes_the_resources_sam_generates(self):
        template = with_parameters(sam.transform(self.TEMPLATE))
        resources = template["Resources"]
        assert {"Api", "ApidefaultStage", "ApiconnectRoute", "ApiconnectIntegration",
                "ApisendRoute", "ApisendIntegration"} <= set(resources)
        assert stage_name(template) == "default"  # SAM's, when StageName is not given
        assert route_selection_expression(template) == "$request.body.action"
        routes = {r.key: (r.function, r.handler_name) for r in route_definitions(template)}
        assert routes == {"$connect": ("Connect", "connect.handler"),
                          "send": ("Send", "send.handler")}
        authorizer = connect_authorizer_definition(template)
        assert authorizer is not None
        assert (authorizer.function, authorizer.handler_name) == ("Auth", "auth.handler")
        assert authorizer.identity_sources == ("route.request.header.Authorization",)

    def test_a_simple_table_is_a_table_keyed_on_id(self):
        template = sam.transform(self.TEMPLATE)
        (table,) = table_definitions(template, resolver_for(template))
        assert table.name == "app-Table"
        assert table.create_arguments["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        assert table.create_arguments["BillingMode"] == "PAY_PER_REQUEST"


class TestIntrinsics:
    TEMPLATE: ClassVar[dict[str, Any]] = {
        "Parameters": {"Stage": {"Type": "String", "Default": "prod"},
                       "Zones": {"Type": "CommaDelimitedList", "Default": "a,b"}},
        "Mappings": {"Sizes": {"Small": {"Memory": "128"}}},
        "Resources": {
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "things"}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Topic": {"Type": "AWS::SNS::Topic"},
        },
    }

    def resolve(self, value):
        return resolver_for(self.TEMPLATE).resolve(value, "Fn Environment.Variables.X")

    def test_refs_and_attributes_take_local_values(self):
        assert self.resolve({"Ref": "Table"}) == "things"
        assert self.resolve({"Ref": "Api"}) == "abc123"
        assert self.resolve({"Ref": "Fn"}) == "app-Fn"
        assert self.resolve({"Ref": "Zones"}) == ["a", "b"]
        assert self.resolve({"Fn::GetAtt": ["Table", "Arn"]}) == (
            "arn:aws:dynamodb:eu-west-1:123456789012:table/things"
        )
        assert self.resolve({"Fn::GetAtt": "Fn.Arn"}) == (
            "arn:aws:lambda:eu-west-1:123456789012:function:app-Fn"
        )

    def test_a_queues_ref_is_its_local_url_and_its_arn_names_it(self):
        assert self.resolve({"Ref": "Queue"}) == (
            "http://127.0.0.1:9000/@roomcast/queues/123456789012/app-Queue"
        )
        assert self.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == (
            "arn:aws:sqs:eu-west-1:123456789012:app-Queue"
        )
        assert self.resolve({"Fn::GetAtt": "Queue.QueueName"}) == "app-Queue"
        on_moto = resolver_for(self.TEMPLATE, queue_endpoint="http://127.0.0.1:5000")
        assert on_moto.resolve({"Fn::GetAtt": ["Queue", "QueueUrl"]}, "X") == (
            "http://127.0.0.1:5000/123456789012/app-Queue"
        )

    def test_sub_join_select_split_and_find_in_map(self):
        assert self.resolve({"Fn::Sub": "${AWS::StackName}-${Table}-${!Literal}"}) == (
            "app-things-${Literal}"
        )
        assert self.resolve({"Fn::Sub": ["${X}/${Table.Arn}", {"X": {"Ref": "Stage"}}]}) == (
            "prod/arn:aws:dynamodb:eu-west-1:123456789012:table/things"
        )
        assert self.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-prod"
        assert self.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y"]}]}) == "y"
        assert self.resolve({"Fn::FindInMap": ["Sizes", "Small", "Memory"]}) == "128"

    def test_the_apis_execute_api_urls_are_the_gateways(self):
        sub = {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"}
        assert self.resolve(sub) == "http://127.0.0.1:9000/prod"
        assert self.resolve("wss://x1.execute-api.us-east-1.amazonaws.com/prod") == (
            "ws://127.0.0.1:9000/prod"
        )

    @pytest.mark.parametrize(
        ("value", "said"),
        [
            ({"Fn::ImportValue": "shared"}, "Fn::ImportValue"),
            ({"Ref": "Topic"}, "Ref Topic (AWS::SNS::Topic)"),
            ({"Ref": "Nothing"}, "Ref Nothing names no parameter or resource"),
            ({"Fn::GetAtt": ["Topic", "TopicArn"]}, "Fn::GetAtt Topic.TopicArn"),
            ({"Fn::GetAtt": ["Queue", "Nonsense"]}, "Fn::GetAtt Queue.Nonsense"),
        ],
    )
    def test_what_has_no_local_value_is_named_with_where_it_is(self, value, said):
        with pytest.raises(Unresolvable) as unresolvable:
            self.resolve(value)
        assert str(unresolvable.value).startswith("Fn Environment.Variables.X: ")
        assert said in str(unresolvable.value)


def test_function_code_is_found_relative_to_the_template():
    folder = FIXTURES / "sam_chat"
    template = with_parameters(load_template(folder / "template.yaml"))
    definition = function_definition(template, "OnConnectFunction", folder)
    assert definition.code.kind == "folder"
    assert definition.code.path == folder / "on_connect"
    assert definition.handler_name == "handler.handle"
    assert definition.timeout_seconds == 10
