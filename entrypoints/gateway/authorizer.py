"""Runs the template's `$connect` REQUEST authorizer before `$connect`, as API Gateway does."""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import importlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from attrs import frozen

from roomcast.entrypoints.gateway.invoker import LambdaContext
from roomcast.entrypoints.gateway.isolation import FunctionFailed
from roomcast.entrypoints.gateway.proxy_events import Api, Caller, connect_event, local_port
from roomcast.entrypoints.gateway.routing import Handler, HandlerFor
from roomcast.entrypoints.gateway.template import connect_authorizer_definition

log = logging.getLogger("roomcast.gateway")

ACCOUNT = "123456789012"
# API Gateway's bodies for a handshake its authorizer refused.
REFUSALS = {401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error"}
AUTHORIZER_TIMEOUT_SECONDS = 10.0


@frozen
class Decision:
    status: int  # 200: allowed; 401, 403, 500: the handshake is refused with it
    context: Mapping[str, Any] | None = None  # requestContext.authorizer when allowed


@frozen
class ConnectAuthorizer:
    identity_sources: tuple[str, ...]
    handler_name: str
    handler: Handler

    def decide(self, connect_event: Mapping[str, Any], region: str, context: Any = None
               ) -> Decision:
        if not has_identity(self.identity_sources, connect_event):
            return Decision(401)
        try:
            answer = self.handler(authorizer_event(connect_event, region), context)
        except FunctionFailed as failure:  # its traceback is in the function's own log
            log.error("the $connect authorizer %s failed: %s: %s", failure.function,
                      failure.error_type, failure.message)
            return Decision(500)
        except Exception:
            log.exception("the $connect authorizer %s raised", self.handler_name)
            return Decision(500)
        return read_policy(answer, method_arn(connect_event, region))


async def authorize(
    authorizer: ConnectAuthorizer | None, api: Api, caller: Caller, request: web.Request
) -> Caller | web.Response:
    """The caller with the authorizer's context (for every event of the connection), or the
    handshake's refusal: 401 without invoking it when the identity source is missing, 403
    for a Deny, 500 when it fails."""
    if authorizer is None:
        return caller
    headers, query = request.headers.items(), request.query.items()
    event = connect_event(api, caller, headers, query, port=local_port(request))
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    context = LambdaContext(
        "authorizer", event["requestContext"]["requestId"], AUTHORIZER_TIMEOUT_SECONDS
    )
    loop = asyncio.get_running_loop()
    decision = await loop.run_in_executor(None, authorizer.decide, event, region, context)
    if decision.status != 200:
        body = json.dumps({"message": REFUSALS.get(decision.status, "Forbidden")})
        return web.Response(status=decision.status, text=body, content_type="application/json")
    return dataclasses.replace(caller, authorizer=decision.context)


def connect_authorizer(
    template: Mapping[str, Any], handler_for: HandlerFor | None = None
) -> ConnectAuthorizer | None:
    """The template's `$connect` authorizer with its handler imported (or where
    `handler_for` runs it), or None without one."""
    found = connect_authorizer_definition(template)
    if found is None:
        return None
    if handler_for is not None:
        return ConnectAuthorizer(
            found.identity_sources, found.handler_name, handler_for(found.function, "")
        )
    module, _, attribute = found.handler_name.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as missing:
        raise ValueError(f"cannot import the authorizer {found.handler_name}: {missing}") from None
    return ConnectAuthorizer(found.identity_sources, found.handler_name, handler)


def has_identity(sources: tuple[str, ...], event: Mapping[str, Any]) -> bool:
    """API Gateway invokes the authorizer only when every identity source is non-empty."""
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    for source in sources:
        kind, _, name = source.removeprefix("route.request.").partition(".")
        value = headers.get(name.lower()) if kind == "header" else query.get(name)
        if kind not in ("header", "querystring") or not value:
            return False
    return True


def method_arn(event: Mapping[str, Any], region: str) -> str:
    context = event["requestContext"]
    return f"arn:aws:execute-api:{region}:{ACCOUNT}:{context['apiId']}/{context['stage']}/$connect"


def authorizer_event(event: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": method_arn(event, region),
        "stageVariables": {},
        **{key: value for key, value in event.items() if key != "body"},
    }


def read_policy(answer: Any, resource: str) -> Decision:
    """Allow only when a statement allows `execute-api:Invoke` on the route and none denies it."""
    try:
        principal = answer["principalId"]
        statements = answer["policyDocument"]["Statement"]
        effects = {s["Effect"] for s in statements if _covers(s, resource)}
        context = dict(answer.get("context") or {})
    except (KeyError, TypeError, AttributeError):
        return Decision(500)
    if not isinstance(principal, str) or "Deny" in effects or "Allow" not in effects:
        return Decision(403 if isinstance(principal, str) else 500)
    return Decision(200, {"principalId": principal, **context})


def _covers(statement: Mapping[str, Any], resource: str) -> bool:
    actions, resources = statement.get("Action", []), statement.get("Resource", [])
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    return any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions) and any(
        fnmatch.fnmatchcase(resource, r) for r in resources
    )
