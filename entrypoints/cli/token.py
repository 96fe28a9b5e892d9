"""`roomcast token`: a JWT for local work, signed with the HS256 secret or a private key."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TypeAlias

from roomcast.domain.access import parse_grant
from roomcast.domain.errors import InvalidGrant, InvalidUserId
from roomcast.domain.model import valid_user_id
from roomcast.entrypoints.settings import ConfigurationError, check_secret

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class TokenError(ValueError):
    """What the user asked for cannot be signed; printed, exit status 2."""


def add_token_command(commands: Subparsers) -> None:
    token = commands.add_parser(
        "token",
        help="print a JWT for SUB (HS256 with --secret, or RS256/ES256 with --key)",
        description=(
            "Print a signed JWT whose sub is the user. HS256 with --secret (default "
            "$ROOMCAST_JWT_SECRET), or RS256/ES256 with a PEM private key (--key, --kid); "
            "--jwks writes that key's public JWKS for ROOMCAST_JWKS_FILE. Each --room adds "
            "to its rooms claim, which ROOMCAST_ROOM_ACCESS=token enforces."
        ),
    )
    token.add_argument("--sub", required=True, help="the user id the token proves")
    signer = token.add_mutually_exclusive_group()
    signer.add_argument("--secret", help="HS256 secret (32+ bytes)")
    signer.add_argument("--key", type=Path, help="PEM private key: RSA (RS256) or P-256 (ES256)")
    token.add_argument("--kid", help="key id put in the header (required with --key)")
    token.add_argument("--jwks", type=Path, help="with --key: write its public JWKS to this file")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--iss", default=os.environ.get("ROOMCAST_JWT_ISSUER"), help="issuer")
    token.add_argument("--aud", default=os.environ.get("ROOMCAST_JWT_AUDIENCE"), help="audience")
    token.add_argument(
        "--room", action="append", default=[], metavar="PATTERN=PERMISSIONS",
        help="grant a room id, or a prefix ending in * ('*' is every room), a comma-separated "
        "list of join and send, e.g. 'team-a=join,send' or 'news-*=join' (repeatable)",
    )
    token.set_defaults(run=_token)


def _token(args: argparse.Namespace) -> int:
    try:
        print(signed_token(args))
    except (TokenError, ConfigurationError) as problem:
        print(f"roomcast token: {problem}", file=sys.stderr)
        return 2
    return 0


def signed_token(args: argparse.Namespace) -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": _user(args.sub), "iat": now, "exp": now + _ttl(args.ttl)}
    claims |= {name: getattr(args, name) for name in ("iss", "aud") if getattr(args, name)}
    if args.room:
        claims["rooms"] = rooms_claim(args.room)
    if args.key is None:
        return jwt.encode(claims, _secret(args.secret), algorithm="HS256")
    if not args.kid:
        raise TokenError("--key needs --kid, the key id your JWKS publishes it under")
    key, algorithm = _private_key(args.key)
    if args.jwks is not None:
        _write_jwks(args.jwks, key, algorithm, args.kid)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": args.kid})


def _user(sub: str) -> str:
    try:
        return valid_user_id(sub).value
    except InvalidUserId as refused:
        raise TokenError(f"--sub: {refused.message}") from None


def rooms_claim(rooms: list[str]) -> dict[str, list[str]]:
    """`--room` values as a `rooms` claim, checked as roomcast will check it; the same
    pattern given twice adds up."""
    claim: dict[str, list[str]] = {}
    for room in rooms:
        pattern, equals, permissions = room.partition("=")
        given = [p.strip() for p in permissions.split(",") if p.strip()]
        if not equals or not given:
            raise TokenError(f"--room {room!r}: write PATTERN=PERMISSIONS, e.g. 'team-a=join,send'")
        claim.setdefault(pattern.strip(), []).extend(given)
    try:
        return parse_grant(claim).as_claim()
    except InvalidGrant as refused:
        raise TokenError(f"--room: {refused.message}") from None


def _ttl(seconds: int) -> int:
    if seconds < 1:
        raise TokenError(f"--ttl must be at least 1 second, got {seconds}")
    return seconds


def _secret(given: str | None) -> str:
    secret = given or os.environ.get("ROOMCAST_JWT_SECRET", "")
    if not secret:
        raise TokenError("give --secret, set ROOMCAST_JWT_SECRET, or sign with --key")
    return check_secret("--secret" if given else "ROOMCAST_JWT_SECRET", secret)


def _private_key(path: Path) -> tuple[Any, str]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as problem:
        raise TokenError(f"cannot read the private key {path}: {problem}") from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return key, "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key, "ES256"
    raise TokenError("--key must be an RSA key of 2048+ bits (RS256) or a P-256 key (ES256)")


def _write_jwks(path: Path, key: Any, algorithm: str, kid: str) -> None:
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    codec = RSAAlgorithm if algorithm == "RS256" else ECAlgorithm
    public = codec.to_jwk(key.public_key(), as_dict=True)
    document = {"keys": [{**public, "kid": kid, "alg": algorithm, "use": "sig"}]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
