"""The Lambda REQUEST authorizer for `$connect`: API Gateway asks it before any handler runs.

Allow: an IAM policy for the route, `principalId` = the user, and a `context` that API Gateway
hands to every later event of the connection as `requestContext.authorizer`: `userId`, and
`rooms`, the token's grant as a JSON string, when the token has a `rooms` claim. A token that
proves nobody, or whose `rooms` claim is not a grant, gets Deny (the client sees 403); a
misconfiguration raises (500). Each invocation reports its line and metrics as the handlers
do, its outcome read from the policy (telemetry's `policy_outcome`).
"""

from __future__ import annotations

import logging
from typing import Any

from roomcast.domain.errors import Unauthorized
from roomcast.domain.identity import authenticate
from roomcast.entrypoints.aws_lambda import events
from roomcast.entrypoints.aws_lambda.events import ROOMS_CONTEXT_KEY
from roomcast.entrypoints.aws_lambda.telemetry.instrumentation import instrumented, policy_outcome
from roomcast.entrypoints.containers import get_container
from roomcast.entrypoints.settings import ConfigurationError

log = logging.getLogger(__name__)

DENIED_PRINCIPAL = "unauthorized"


@instrumented("authorizer", policy_outcome)
def authorize(event: Any, context: Any = None) -> dict[str, Any]:
    resource = events.method_arn(event)
    verifier = get_container().verifier()
    if verifier is None:
        raise ConfigurationError(
            "the authorizer needs ROOMCAST_JWKS_URL, ROOMCAST_JWKS_FILE or an HS256 secret"
        )
    try:
        identity = authenticate(verifier, events.token(event))
    except Unauthorized as refused:
        log.info("denied a connection: %s (%s)", refused, events.describe(event))
        return policy(DENIED_PRINCIPAL, "Deny", resource)
    user = identity.user_id.value
    granted = {"userId": user}
    if identity.grant:
        granted[ROOMS_CONTEXT_KEY] = identity.grant.as_json()
    return policy(user, "Allow", resource) | {"context": granted}


def policy(principal: str, effect: str, resource: str) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }
