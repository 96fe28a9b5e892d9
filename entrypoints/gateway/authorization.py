"""Runs the template's `$connect` authorizer before `$connect`, as API Gateway does."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os

from aiohttp import web

from roomcast.entrypoints.gateway.invoker import LambdaContext
from roomcast.entrypoints.gateway.proxy_events import Api, Caller, connect_event
from roomcast.entrypoints.gateway.state import Gateway, local_port

# API Gateway's bodies for a handshake its authorizer refused.
REFUSALS = {401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error"}
AUTHORIZER_TIMEOUT_SECONDS = 10.0


async def authorize(
    gateway: Gateway, api: Api, caller: Caller, request: web.Request
) -> Caller | web.Response:
    """The caller with the authorizer's context (for every event of the connection), or the
    handshake's refusal: 401 without invoking it when the identity source is missing, 403
    for a Deny, 500 when it fails."""
    authorizer = gateway.authorizer
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
