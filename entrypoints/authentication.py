"""Builds the TokenVerifier the settings ask for; each adapter (and PyJWT) imported only then.

PyJWT imports cryptography whenever it is installed, and on Lambda only the JWKS layer
installs it: an HS256 verifier never pays for it there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomcast.entrypoints.settings import ConfigurationError, check_secret
from roomcast.ports import TokenVerifier


def build_verifier(values: Mapping[str, Any]) -> TokenVerifier | None:
    """None when no key source is set: then a connection's `userId` is taken as given."""
    if values.get("jwks_url") or values.get("jwks_file"):
        return _jwks_verifier(values)
    secret = _hs256_secret(values)
    if secret is None:
        return None
    from roomcast.adapters.jwt_verifier import JwtVerifier

    return JwtVerifier(
        secret,
        audience=values.get("jwt_audience"),
        issuer=values.get("jwt_issuer"),
        client_id=values.get("jwt_client_id"),
    )


def _jwks_verifier(values: Mapping[str, Any]) -> TokenVerifier:
    from jwt.algorithms import has_crypto

    if not has_crypto:  # PyJWT would refuse every RS256/ES256 token as an unknown algorithm
        raise ConfigurationError(
            "ROOMCAST_JWKS_URL/ROOMCAST_JWKS_FILE need the cryptography package: on Lambda, "
            "the template's JwksLayer (attached where JwksUrl is verified)"
        )
    from roomcast.adapters.jwks_keys import JwksCache, file_loader, url_loader
    from roomcast.adapters.jwks_verifier import JwksVerifier
    from roomcast.adapters.jwt_claims import ClaimRules

    url = values.get("jwks_url")
    load = url_loader(url) if url else file_loader(values["jwks_file"])
    keys = JwksCache(load, min_refresh_seconds=values.get("jwks_min_refresh_seconds", 60))
    rules = ClaimRules(
        audience=values.get("jwt_audience"),
        issuer=values.get("jwt_issuer"),
        client_id=values.get("jwt_client_id"),
    )
    return JwksVerifier(keys, rules)


def _hs256_secret(values: Mapping[str, Any]) -> str | None:
    """The secret from the environment, or read from SSM or Secrets Manager (once: the
    container keeps the verifier for the execution environment)."""
    from_env: str | None = values.get("jwt_secret")
    if from_env:
        return from_env
    parameter, secret_id = values.get("jwt_secret_parameter"), values.get("jwt_secret_id")
    if not parameter and not secret_id:
        return None
    from roomcast.adapters.secret_source import read_secrets_manager, read_ssm_parameter

    try:
        if parameter:
            return check_secret("ROOMCAST_JWT_SECRET_PARAMETER", read_ssm_parameter(parameter))
        return check_secret("ROOMCAST_JWT_SECRET_ID", read_secrets_manager(str(secret_id)))
    except ConfigurationError:
        raise
    except Exception as problem:  # botocore's errors, a missing parameter, no permission
        name = parameter or secret_id
        raise ConfigurationError(f"cannot read the JWT secret {name}: {problem}") from None
