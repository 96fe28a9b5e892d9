"""SigV4 for the Management API: botocore's own signer, doing once what every recipient shares."""

from __future__ import annotations

from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError
from botocore.session import Session

SERVICE = "execute-api"


class BroadcastSigV4Auth(SigV4Auth):  # type: ignore[misc]  # botocore ships no types
    """botocore's SigV4Auth computing exactly what it computes, minus the repeats of a broadcast:
    the signing key is derived once a day (per credentials, since a signer holds one set) and
    the payload hash once per body, not once per recipient."""

    def __init__(self, credentials: ReadOnlyCredentials, region: str) -> None:
        super().__init__(credentials, SERVICE, region)
        self._key: tuple[str, bytes] | None = None
        self._body: object = None
        self._body_hash = ""

    def payload(self, request: Any) -> str:
        if self._body is None or request.data is not self._body:
            self._body, self._body_hash = request.data, super().payload(request)
        return self._body_hash

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

    def headers_for(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """The signed headers (Authorization, X-Amz-Date, X-Amz-Security-Token) to send."""
        request = AWSRequest(method=method, url=url, data=body)
        self.add_auth(request)
        return dict(request.headers.items())


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
