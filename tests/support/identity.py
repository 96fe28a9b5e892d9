"""Signing keys, JWKS documents and forged tokens for the authentication tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
CLIENT_ID = "3n4b5urk1ft4fl3mg5e62d9ado"
HS256_SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


def hs256_signed(
    claims: dict[str, Any], secret: str = HS256_SECRET, algorithm: str = "HS256"
) -> str:
    """A shared-secret token for `claims`, expiring in five minutes unless they say otherwise."""
    return jwt.encode({"exp": int(time.time()) + 300, **claims}, secret, algorithm=algorithm)


class SigningKey:
    def __init__(self, kid: str, algorithm: str, private_key: Any) -> None:
        self.kid, self.algorithm, self.private_key = kid, algorithm, private_key

    def public_jwk(self) -> dict[str, Any]:
        codec = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        jwk = codec.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_pem(self) -> bytes:
        return bytes(self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ))

    def private_pem(self) -> bytes:
        return bytes(self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """Signed with `kid` in the header; `kid=None` leaves it out."""
        headers = {k: v for k, v in {"kid": self.kid, **header}.items() if v is not None}
        return jwt.encode(
            {"exp": int(time.time()) + 300, **claims}, self.private_key,
            algorithm=self.algorithm, headers=headers,
        )


def rsa_key(kid: str = "rsa-1") -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str = "ec-1") -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def write_jwks(path: Path, *keys: SigningKey) -> Path:
    path.write_text(json.dumps(jwks(*keys)), encoding="utf-8")
    return path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned_parts(header: dict[str, Any], claims: dict[str, Any]) -> str:
    body = {"exp": int(time.time()) + 300, **claims}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"


def alg_none_token(kid: str, claims: dict[str, Any]) -> str:
    return _unsigned_parts({"alg": "none", "typ": "JWT", "kid": kid}, claims) + "."


def hs256_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    """The algorithm-confusion forgery: HMAC keyed with the bytes of the published key."""
    signing_input = _unsigned_parts({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims)
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def refused_tokens(
    key: SigningKey, good: dict[str, Any], wrong_audience: dict[str, Any]
) -> dict[str, Callable[[], str]]:
    """Tokens that prove nobody, by what is wrong with them; `good` is otherwise accepted."""
    stranger = rsa_key("unpublished")
    return {
        "expired": lambda: key.sign({**good, "exp": int(time.time()) - 120}),
        "wrong issuer": lambda: key.sign({**good, "iss": "https://evil.example"}),
        "wrong audience": lambda: key.sign({**good, **wrong_audience}),
        "alg none": lambda: alg_none_token(key.kid, good),
        "HS256 with the public key": lambda: hs256_with_public_key(key, good),
        "unknown kid": lambda: stranger.sign(good),
    }


class JwksServer:
    """A loopback issuer: serves `document` at /.well-known/jwks.json and counts the fetches."""

    def __init__(self, *keys: SigningKey) -> None:
        self.document = jwks(*keys)
        self.fetches = 0
        self.url = ""

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
