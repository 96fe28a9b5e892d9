"""The authentication settings: one key source at a time, a JWKS URL that cannot be diverted."""

from __future__ import annotations

import pytest

from roomcast.entrypoints.containers import get_container
from roomcast.entrypoints.settings import ConfigurationError

SECRET = "a-settings-test-secret-of-at-least-32-bytes"


@pytest.fixture
def memory(environment: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    environment.setenv("ROOMCAST_STORE", "memory")
    return environment


class TestKeySources:
    @pytest.mark.parametrize(
        "pair",
        [("ROOMCAST_JWT_SECRET", "ROOMCAST_JWKS_FILE"),
         ("ROOMCAST_JWKS_URL", "ROOMCAST_JWKS_FILE"),
         ("ROOMCAST_JWT_SECRET_PARAMETER", "ROOMCAST_JWT_SECRET_ID")],
        ids=lambda pair: "+".join(pair),
    )
    def test_two_key_sources_at_once_are_refused_naming_both(
        self, memory: pytest.MonkeyPatch, pair: tuple[str, str]
    ) -> None:
        values = {"ROOMCAST_JWT_SECRET": SECRET, "ROOMCAST_JWKS_FILE": "/tmp/jwks.json",
                  "ROOMCAST_JWKS_URL": "https://issuer.example/jwks.json",
                  "ROOMCAST_JWT_SECRET_PARAMETER": "/roomcast/jwt",
                  "ROOMCAST_JWT_SECRET_ID": "roomcast/jwt"}
        for name in pair:
            memory.setenv(name, values[name])
        with pytest.raises(ConfigurationError, match=f"{pair[0]}.*{pair[1]}"):
            get_container()

    @pytest.mark.parametrize(
        "url",
        ["http://issuer.example/jwks.json", "file:///etc/passwd", "ftp://127.0.0.1/jwks.json",
         "https:///no-host"],
    )
    def test_a_jwks_url_must_be_https_or_loopback_http(
        self, memory: pytest.MonkeyPatch, url: str
    ) -> None:
        memory.setenv("ROOMCAST_JWKS_URL", url)
        with pytest.raises(ConfigurationError, match="ROOMCAST_JWKS_URL must be an https://"):
            get_container()

    @pytest.mark.parametrize(
        "url", ["https://cognito-idp.us-east-1.amazonaws.com/p/.well-known/jwks.json",
                "http://127.0.0.1:8000/jwks.json", "http://localhost/jwks.json"],
    )
    def test_https_and_loopback_urls_are_taken_without_fetching(
        self, memory: pytest.MonkeyPatch, url: str
    ) -> None:
        memory.setenv("ROOMCAST_JWKS_URL", url)
        assert get_container().verifier() is not None
