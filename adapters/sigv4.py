"""SigV4 for the Management API: botocore's own signer, doing once what every recipient shares."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import get_current_datetime
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError
from botocore.session import Session

SERVICE = "execute-api"


class _Dated(NamedTuple):
    """What SigV4Auth.string_to_sign and .signature read from a request: its timestamp."""

    context: dict[str, str]


class _Template(NamedTuple):
    """What requests differing from one botocore signed in full only in their path share with
    it: the canonical request after the path line, the headers, and the Authorization header
    up to its signature."""

    after_path: str
    headers: dict[str, str]
    authorization_prefix: str


# Broadcasts that run at once (the local gateway's rooms) each keep their template.
MAX_TEMPLATES = 64
TemplateKey = tuple[str, str, str, str, str, bytes]  # method, scheme, host, query, time, body


class BroadcastSigV4Auth(SigV4Auth):  # type: ignore[misc]  # botocore ships no types
    """botocore's SigV4Auth computing exactly what it computes, minus the repeats of a broadcast.

    The first request of a broadcast in each second is signed by SigV4Auth's own steps in
    full. The canonical request of one that differs from it only in its path is the same but
    for the path line (headers, query and payload hash do not depend on the path), so each
    further recipient costs SigV4Auth's path normalisation, string to sign and final HMAC;
    the signing key is derived once a day (per credentials: a signer holds one set).
    """

    def __init__(self, credentials: ReadOnlyCredentials, region: str) -> None:
        super().__init__(credentials, SERVICE, region)
        self._key: tuple[str, bytes] | None = None
        self._templates: dict[TemplateKey, _Template] = {}

    def headers_for(
        self, method: str, url: str, body: bytes, timestamp: str | None = None
    ) -> dict[str, str]:
        """The headers to send: X-Amz-Date, X-Amz-Security-Token (with a session token) and
        Authorization. `timestamp` (SIGV4_TIMESTAMP) defaults to now, as in add_auth."""
        dated = _Dated({"timestamp": timestamp or get_current_datetime().strftime(SIGV4_TIMESTAMP)})
        parts = urlsplit(url)
        key = (method, parts.scheme, parts.netloc, parts.query, dated.context["timestamp"], body)
        template = self._templates.get(key) or self._sign_in_full(key, url, dated)
        path = self._normalize_url_path(parts.path)
        canonical = f"{method}\n{path}\n{template.after_path}"
        signature = self.signature(self.string_to_sign(dated, canonical), dated)
        return template.headers | {"Authorization": template.authorization_prefix + signature}

    def signature(self, string_to_sign: str, request: Any) -> str:
        datestamp = request.context["timestamp"][0:8]
        if self._key is None or self._key[0] != datestamp:
            self._key = (datestamp, self.signing_key(datestamp))
        return str(self._sign(self._key[1], string_to_sign, hex=True))

    def signing_key(self, datestamp: str) -> bytes:
        """The derivation in SigV4Auth.signature, with botocore's own HMAC step."""
        k_date = self._sign(f"AWS4{self.credentials.secret_key}".encode(), datestamp)
        k_region = self._sign(k_date, self._region_name)
        k_service = self._sign(k_region, self._service_name)
        return bytes(self._sign(k_service, "aws4_request"))

    def _sign_in_full(self, key: TemplateKey, url: str, dated: _Dated) -> _Template:
        """SigV4Auth.add_auth's steps at the given time, keeping the canonical request."""
        request = AWSRequest(method=key[0], url=url, data=key[5])
        request.context.update(dated.context)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)
        headers = dict(request.headers.items())
        prefix = headers["Authorization"].rpartition("Signature=")[0] + "Signature="
        if len(self._templates) >= MAX_TEMPLATES or any(
            k[4] != key[4] for k in self._templates
        ):
            self._templates.clear()
        template = self._templates[key] = _Template(canonical.split("\n", 2)[2], headers, prefix)
        return template


class Signer:
    """botocore's credential chain, read again for every signature: refreshable credentials
    (an assumed role, a container's) that expire mid-broadcast are renewed by botocore and the
    next request is signed with the new ones."""

    def __init__(self, region: str, session: Session | None = None) -> None:
        self.region = region
        self._session = session or Session()
        self._credentials: Any = None
        self._auth: BroadcastSigV4Auth | None = None

    def headers_for(self, method: str, url: str, body: bytes) -> dict[str, str]:
        return self._current().headers_for(method, url, body)

    def _current(self) -> BroadcastSigV4Auth:
        if self._credentials is None:
            self._credentials = self._session.get_credentials()
            if self._credentials is None:
                raise NoCredentialsError()
        frozen = self._credentials.get_frozen_credentials()
        if self._auth is None or self._auth.credentials != frozen:
            self._auth = BroadcastSigV4Auth(frozen, self.region)
        return self._auth
