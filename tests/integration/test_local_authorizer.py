"""The local gateway's API Gateway part of the $connect authorizer, over the real template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roomcast.entrypoints.containers import get_container
from roomcast.entrypoints.gateway.authorizer import connect_authorizer, read_policy
from roomcast.entrypoints.gateway.template import load_template, with_parameters
from tests.support import events
from tests.support.events import REGION
from tests.support.identity import rsa_key, write_jwks

KEY = rsa_key("local-1")
ARN = events.CONNECT_ARN


def guarded(**overrides: str) -> Any:
    template = with_parameters(load_template(), {"Authentication": "authorizer", **overrides})
    authorizer = connect_authorizer(template)
    assert authorizer is not None
    return authorizer


@pytest.fixture
def jwks_configured(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.setenv("ROOMCAST_STORE", "memory")
    environment.setenv("ROOMCAST_JWKS_FILE", str(write_jwks(tmp_path / "jwks.json", KEY)))
    get_container()


def connect_event(query: dict[str, str] | None = None, protocols: str | None = None) -> Any:
    event = events.authorizer_event(events.new_connection_id(), query, protocols)
    return {k: v for k, v in event.items() if k not in ("type", "methodArn", "stageVariables")}


class TestTheTemplatesAuthorizer:
    def test_none_without_the_authorizer_parameter(self) -> None:
        assert connect_authorizer(with_parameters(load_template())) is None

    def test_it_runs_the_handler_the_template_names(self) -> None:
        assert guarded().handler_name == "roomcast.entrypoints.aws_lambda.handlers.authorize"

    def test_a_missing_identity_source_is_401_without_invoking(self) -> None:
        calls: list[Any] = []
        authorizer = guarded()
        spy = type(authorizer)(authorizer.identity_sources, "spy", lambda e, c: calls.append(e))
        assert spy.decide(connect_event({"userId": "alice"}), REGION).status == 401
        assert spy.decide(connect_event({"token": ""}), REGION).status == 401
        assert calls == []

    def test_the_protocol_header_is_the_identity_source_when_chosen(
        self, jwks_configured: None
    ) -> None:
        authorizer = guarded(AuthorizerTokenSource="protocol")
        token = KEY.sign({"sub": "alice"})
        assert authorizer.decide(connect_event({"token": token}), REGION).status == 401
        decision = authorizer.decide(connect_event(protocols=f"roomcast, {token}"), REGION)
        assert (decision.status, decision.context) == (
            200, {"principalId": "alice", "userId": "alice"})

    def test_allow_deny_and_error(self, jwks_configured: None) -> None:
        authorizer = guarded()
        allowed = authorizer.decide(connect_event({"token": KEY.sign({"sub": "bob"})}), REGION)
        assert (allowed.status, allowed.context) == (200, {"principalId": "bob", "userId": "bob"})
        forged = rsa_key("unpublished").sign({"sub": "bob"})
        denied = authorizer.decide(connect_event({"token": forged}), REGION)
        assert (denied.status, denied.context) == (403, None)
        broken = connect_event({"token": "t"})
        del broken["requestContext"]
        assert authorizer.decide(broken, REGION).status == 500


def statement(effect: str, resource: str | list[str], action: str = "execute-api:Invoke") -> Any:
    return {"Effect": effect, "Action": action, "Resource": resource}


def policy(*statements: Any, **extra: Any) -> Any:
    return {"principalId": "alice",
            "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)}, **extra}


class TestReadingThePolicy:
    @pytest.mark.parametrize(
        "answer",
        [policy(statement("Allow", ARN)),
         policy(statement("Allow", "arn:aws:execute-api:*:*:*/*/$connect")),
         policy(statement("Allow", ["arn:aws:execute-api:*:*:other/*", "*"]),
                statement("Allow", ARN, action="execute-api:*"))],
        ids=["exact", "wildcards", "list"],
    )
    def test_an_allow_covering_the_route_allows(self, answer: Any) -> None:
        assert read_policy(answer, ARN).status == 200

    @pytest.mark.parametrize(
        "answer",
        [policy(statement("Deny", ARN)),
         policy(statement("Allow", ARN), statement("Deny", "*")),
         policy(statement("Allow", "arn:aws:execute-api:us-east-1:1:other/dev/$connect")),
         policy(statement("Allow", ARN, action="execute-api:ManageConnections"))],
        ids=["deny", "deny wins", "another api", "another action"],
    )
    def test_anything_less_is_403(self, answer: Any) -> None:
        assert read_policy(answer, ARN).status == 403

    @pytest.mark.parametrize("answer", [None, {}, {"principalId": "a"}, "Allow"])
    def test_an_answer_that_is_not_a_policy_is_500(self, answer: Any) -> None:
        assert read_policy(answer, ARN).status == 500

    def test_the_context_rides_along_with_the_principal(self) -> None:
        decision = read_policy(policy(statement("Allow", ARN), context={"plan": "gold"}), ARN)
        assert decision.context == {"principalId": "alice", "plan": "gold"}
