"""Checks a request's SigV4 signature the way API Gateway does, with botocore's own signer."""

from __future__ import annotations

import re
from collections.abc import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>\w+)"
)


def signer_of(
    method: str, url: str, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str]
) -> str | None:
    """The access key that signed this request, or None if the signature does not verify."""
    match = _AUTHORIZATION.fullmatch(headers.get("Authorization", ""))
    if match is None or match["key"] not in secrets:
        return None
    lowered = {name.lower(): value for name, value in headers.items()}
    signed = {name: lowered.get(name, "") for name in match["signed"].split(";")}
    request = AWSRequest(method=method, url=url, headers=signed, data=body)
    request.context["timestamp"] = lowered.get("x-amz-date", "")
    credentials = ReadOnlyCredentials(match["key"], secrets[match["key"]], None)
    auth = SigV4Auth(credentials, match["service"], match["region"])
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    expected = auth.signature(string_to_sign, request)
    return match["key"] if expected == match["sig"] else None
