"""infra/template.yaml's identity block: the Authentication switch, the authorizer, the secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roomcast.entrypoints.gateway.template import load_template, with_parameters

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
JWKS_URL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST/.well-known/jwks.json"
AUTHORIZER = {"Authentication": "authorizer", "JwksUrl": JWKS_URL}
KEY_SOURCES = ("ROOMCAST_JWT_SECRET", "ROOMCAST_JWT_SECRET_PARAMETER", "ROOMCAST_JWT_SECRET_ID",
               "ROOMCAST_JWKS_URL")


def stack(**overrides: str) -> dict[str, Any]:
    return dict(with_parameters(TEMPLATE, overrides)["Resources"])


def cfn_lint(template: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "resolved.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    # W2001: resolving the conditions leaves the other mode's parameters unused.
    return subprocess.run(
        [str(cfn_lint), "--ignore-checks", "W2001", "W3002", "--", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


class TestAuthenticationSwitch:
    @pytest.mark.parametrize(
        "overrides",
        [{}, {"JwtSecretName": "roomcast/jwt"}, {"JwksUrl": JWKS_URL}, AUTHORIZER,
         {**AUTHORIZER, "JwksUrl": "", "JwtSecretParameterName": "/roomcast/jwt",
          "AuthorizerTokenSource": "protocol"}],
        ids=["none", "none, secret in Secrets Manager", "none, JWKS (the layer on connect)",
             "authorizer, JWKS", "authorizer, secret in SSM, token in the subprotocol"],
    )
    def test_each_mode_is_lint_clean_as_deployed(
        self, overrides: dict[str, str], tmp_path: Path
    ) -> None:
        result = cfn_lint(with_parameters(TEMPLATE, overrides), tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_by_default_connect_has_no_authorizer(self) -> None:
        resources = stack()
        route = resources["ConnectRoute"]["Properties"]
        assert route["AuthorizationType"] == "NONE" and "AuthorizerId" not in route
        assert not {"ConnectAuthorizer", "AuthorizerFunction", "AuthorizerRole"} & set(resources)

    def test_the_authorizer_guards_connect_and_is_permitted_for_this_api_only(self) -> None:
        resources = stack(**AUTHORIZER)
        route = resources["ConnectRoute"]["Properties"]
        assert route["AuthorizationType"] == "CUSTOM"
        assert route["AuthorizerId"] == {"Ref": "ConnectAuthorizer"}
        authorizer = resources["ConnectAuthorizer"]["Properties"]
        assert authorizer["AuthorizerType"] == "REQUEST"
        assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
        assert "${AuthorizerFunction.Arn}" in authorizer["AuthorizerUri"]["Fn::Sub"]
        function = resources["AuthorizerFunction"]["Properties"]
        assert function["Handler"] == "roomcast.entrypoints.aws_lambda.handlers.authorize"
        permission = resources["AuthorizerPermission"]["Properties"]
        assert permission["FunctionName"] == {"Ref": "AuthorizerFunction"}
        assert permission["SourceArn"]["Fn::Sub"].endswith(
            ":${WebSocketApi}/authorizers/${ConnectAuthorizer}"
        )

    def test_a_token_in_the_subprotocol_is_the_identity_source_when_chosen(self) -> None:
        authorizer = stack(**AUTHORIZER, AuthorizerTokenSource="protocol")["ConnectAuthorizer"]
        assert authorizer["Properties"]["IdentitySource"] == [
            "route.request.header.Sec-WebSocket-Protocol"
        ]

    def test_keys_go_to_whichever_function_checks_tokens(self) -> None:
        def key_variables(resources: dict[str, Any], name: str) -> dict[str, Any]:
            variables = resources[name]["Properties"]["Environment"]["Variables"]
            return {k: v for k, v in variables.items() if k in KEY_SOURCES}

        guarded = stack(**AUTHORIZER)
        assert set(key_variables(guarded, "ConnectFunction").values()) == {""}
        assert key_variables(guarded, "AuthorizerFunction")["ROOMCAST_JWKS_URL"] == {
            "Ref": "JwksUrl"}
        unguarded = stack(JwksUrl=JWKS_URL)
        assert key_variables(unguarded, "ConnectFunction")["ROOMCAST_JWKS_URL"] == {
            "Ref": "JwksUrl"}

    def test_the_authorizer_may_only_write_its_own_logs(self) -> None:
        role = stack(**AUTHORIZER)["AuthorizerRole"]["Properties"]
        [policy] = role["Policies"]
        [statement] = policy["PolicyDocument"]["Statement"]
        assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statement["Resource"] == {"Fn::GetAtt": ["AuthorizerLogGroup", "Arn"]}


class TestTheJwksLayer:
    """cryptography (the layer) goes only to the function that verifies a JWKS: PyJWT imports
    it wherever it is installed, so an HS256-only function must not have it."""

    @pytest.mark.parametrize(
        ("overrides", "with_layer"),
        [({}, set()), ({"JwtSecret": "s" * 32}, set()),
         ({"JwtSecretName": "roomcast/jwt"}, set()),
         ({"JwksUrl": JWKS_URL}, {"ConnectFunction"}),
         (AUTHORIZER, {"AuthorizerFunction"}),
         ({**AUTHORIZER, "JwksUrl": "", "JwtSecret": "s" * 32}, set())],
        ids=["no keys", "HS256 secret", "secret in Secrets Manager", "JWKS in connect",
             "JWKS in the authorizer", "HS256 in the authorizer"],
    )
    def test_it_is_attached_only_where_a_jwks_is_verified(
        self, overrides: dict[str, str], with_layer: set[str]
    ) -> None:
        resources = stack(**overrides)
        functions = {n: r["Properties"] for n, r in resources.items()
                     if r["Type"] == "AWS::Lambda::Function"}
        layered = {name for name, f in functions.items() if "Layers" in f}
        assert layered == with_layer
        for name in layered:
            assert functions[name]["Layers"] == [{"Ref": "JwksLayer"}]
        assert ("JwksLayer" in resources) == bool(with_layer)


class TestSecretStores:
    def test_no_secret_store_no_permission(self) -> None:
        assert "JwtSecretReadPolicy" not in stack()
        assert "JwtSecretReadPolicy" not in stack(**AUTHORIZER)

    @pytest.mark.parametrize(
        ("overrides", "role"),
        [({"JwtSecretParameterName": "/roomcast/jwt"}, "FunctionRole"),
         ({"Authentication": "authorizer", "JwtSecretParameterName": "/roomcast/jwt"},
          "AuthorizerRole")],
        ids=["connect handler", "authorizer"],
    )
    def test_an_ssm_parameter_is_readable_by_the_checker_only_that_parameter(
        self, overrides: dict[str, str], role: str
    ) -> None:
        policy = stack(**overrides)["JwtSecretReadPolicy"]["Properties"]
        assert policy["Roles"] == [{"Ref": role}]
        [statement] = policy["PolicyDocument"]["Statement"]
        assert statement["Action"] == "ssm:GetParameter"
        assert statement["Resource"]["Fn::Sub"].endswith(":parameter${JwtSecretParameterName}")

    def test_a_secrets_manager_secret_is_readable_by_name_and_its_random_suffix_only(
        self,
    ) -> None:
        policy = stack(JwtSecretName="roomcast/jwt")["JwtSecretReadPolicy"]["Properties"]
        [statement] = policy["PolicyDocument"]["Statement"]
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"]["Fn::Sub"].endswith(":secret:${JwtSecretName}-??????")

    def test_the_rules_refuse_two_key_sources_and_an_authorizer_without_keys(self) -> None:
        rules = TEMPLATE["Rules"]
        assert "JwksUrl" in rules["OneKeySource"]["Assertions"][0]["AssertDescription"]
        assert rules["AuthorizerHasKeys"]["RuleCondition"] == {
            "Fn::Equals": [{"Ref": "Authentication"}, "authorizer"]}


class TestRoomAccess:
    @pytest.mark.parametrize(
        "overrides",
        [{"RoomAccess": "token", "JwtSecretName": "roomcast/jwt"},
         {**AUTHORIZER, "RoomAccess": "token"}],
        ids=["token, secret in the handler", "token, authorizer"],
    )
    def test_token_access_is_lint_clean_as_deployed(
        self, overrides: dict[str, str], tmp_path: Path
    ) -> None:
        result = cfn_lint(with_parameters(TEMPLATE, overrides), tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_open_is_the_default_and_token_the_only_other_choice(self) -> None:
        parameter = TEMPLATE["Parameters"]["RoomAccess"]
        assert (parameter["Default"], parameter["AllowedValues"]) == ("open", ["open", "token"])

    def test_the_functions_that_connect_and_handle_frames_get_it(self) -> None:
        resources = stack(RoomAccess="token")
        for name in ("ConnectFunction", "MessageFunction"):
            variables = resources[name]["Properties"]["Environment"]["Variables"]
            assert variables["ROOMCAST_ROOM_ACCESS"] == {"Ref": "RoomAccess"}, name

    def test_the_rules_refuse_token_access_without_a_key_source(self) -> None:
        rule = TEMPLATE["Rules"]["RoomAccessNeedsAuthentication"]
        assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "RoomAccess"}, "token"]}
        [assertion] = rule["Assertions"]
        checked = json.dumps(assertion["Assert"])
        for parameter in ("JwtSecret", "JwksUrl", "JwtSecretParameterName", "JwtSecretName"):
            assert f'{{"Ref": "{parameter}"}}' in checked, parameter
        assert "RoomAccess=token needs" in assertion["AssertDescription"]


class TestWithParameters:
    def test_an_unknown_parameter_is_refused(self) -> None:
        with pytest.raises(ValueError, match="Authentification"):
            with_parameters(TEMPLATE, {"Authentification": "authorizer"})
