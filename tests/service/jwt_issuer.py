"""A fake token issuer for the JWT tests: local keys, their JWKS served over loopback.

It stands in for Amazon Cognito or any OIDC issuer: ``url`` is both the
``iss`` of its tokens and the base of ``/.well-known/jwks.json``. It counts
JWKS downloads, can rotate its keys, fail (HTTP 500) or hang.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "items-api-client"
WRITE_SCOPE = "items:write"
JWKS_PATH = "/.well-known/jwks.json"
Mode = Literal["ok", "error", "hang"]


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWS compact serialisation uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKeyPair:
    """A private key, its ``kid`` and algorithm, and its public JWK."""

    def __init__(self, algorithm: str, kid: str | None = None) -> None:
        """A fresh RSA-2048 (RS256) or P-256 (ES256) key."""
        self.algorithm = algorithm
        self.kid = kid or f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
        if algorithm == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk: dict[str, Any] = {**public, "kid": self.kid, "alg": algorithm, "use": "sig"}

    def public_pem(self) -> bytes:
        """The public key as PEM: what an HS256 key-confusion attack would use as secret."""
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


class FakeIssuer:
    """Signs tokens and serves its JWKS on 127.0.0.1 (a free port) until ``stop``."""

    def __init__(self) -> None:
        """Two keys published: one RS256, one ES256."""
        self.rsa = SigningKeyPair("RS256")
        self.ec = SigningKeyPair("ES256")
        self.published: list[dict[str, Any]] = [self.rsa.jwk, self.ec.jwk]
        self.fetches = 0
        self.mode: Mode = "ok"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                issuer.fetches += 1
                if issuer.mode == "hang":
                    time.sleep(3)
                if issuer.mode != "ok":
                    self.send_error(500)
                    return
                body = json.dumps({"keys": issuer.published}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test output is not the place for access logs."""

        return Handler

    def start(self) -> FakeIssuer:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A Cognito-like client-credentials access token's claims, ``None`` values dropped."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": "machine-client-1",
            "client_id": AUDIENCE,
            "token_use": "access",
            "scope": f"{WRITE_SCOPE} items:read",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def token(
        self, key: SigningKeyPair | None = None, kid: str | None = None, **claims: Any
    ) -> str:
        """A token signed by ``key`` (the RSA key by default), its ``kid`` in the header."""
        key = key or self.rsa
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm=key.algorithm,
            headers={"kid": kid or key.kid},
        )

    def unsigned(self, alg: str, secret: bytes | None = None, **claims: Any) -> str:
        """An attack token: ``alg`` in the header, HMAC-SHA256 by ``secret`` or no signature."""
        header = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": self.rsa.kid}).encode())
        payload = b64url(json.dumps(self.claims(**claims)).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = (
            b"" if secret is None else hmac.new(secret, signing_input, hashlib.sha256).digest()
        )
        return f"{header}.{payload}.{b64url(signature)}"

    def rotate(self) -> SigningKeyPair:
        """Publish a new RSA key in place of every old one; return it."""
        self.rsa = SigningKeyPair("RS256")
        self.published = [self.rsa.jwk]
        return self.rsa
