"""Who may write: the static bearer token, or an issuer's JWTs carrying the write scope.

``AUTH_MODE=token`` (the default) compares the bearer token with ``API_TOKEN``
in constant time. ``AUTH_MODE=jwt`` verifies an access token from
``AUTH_ISSUER`` (Amazon Cognito or any OIDC issuer): its signature against the
issuer's JWKS, its ``iss``, its ``aud`` or ``client_id``, ``exp``/``nbf`` with
:data:`LEEWAY_SECONDS` of leeway, and then that its ``scope`` holds
``AUTH_WRITE_SCOPE``. The cryptography is PyJWT's (with ``cryptography``).

Only RS256 and ES256 are accepted, and a key is used only with the algorithm
its JWKS entry is for: ``alg: none`` and an HS256 token "signed" with the
issuer's public key are refused before any key is touched.

Errors: 401 ``unauthorized`` (missing or invalid token, with ``WWW-Authenticate``),
403 ``insufficient_scope``, 503 ``auth_unavailable`` when the issuer's keys cannot
be fetched (never a 500: the token may well be valid).
"""

from __future__ import annotations

import asyncio
import hmac
import http.client
import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Final, Protocol

from starlette.exceptions import HTTPException

from service.config import Settings
from service.logging import get_logger

log = get_logger("auth")

# Algorithm -> the JWK key type it verifies with. Asymmetric only, from the JWKS only.
ALLOWED_ALGORITHMS: Final[dict[str, str]] = {"RS256": "RSA", "ES256": "EC"}
# Clock skew tolerated on exp/nbf/iat between the issuer and this service.
LEEWAY_SECONDS: Final = 30
# A JWKS is a few keys; anything larger is not one (and must not fill the memory).
MAX_JWKS_BYTES: Final = 64 * 1024
# The principal the rate limiter sees for a caller of the static token.
TOKEN_PRINCIPAL: Final = "token"  # noqa: S105 - a name, not a secret
RETRY_AFTER_SECONDS: Final = "5"
_MAX_KID_LENGTH: Final = 256


class AuthError(HTTPException):
    """A refused request: status, message and envelope ``code`` (service.errors reads it)."""

    def __init__(
        self, status_code: int, message: str, headers: dict[str, str], code: str | None = None
    ) -> None:
        """Carry ``code`` next to Starlette's status, detail and headers."""
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code


def missing_token(how: str) -> AuthError:
    """401: no ``Authorization: Bearer`` header at all (RFC 6750: no error code)."""
    return AuthError(
        401,
        f"Missing bearer token: send Authorization: Bearer <{how}>",
        {"WWW-Authenticate": "Bearer"},
    )


def invalid_token(reason: str) -> AuthError:
    """401 ``invalid_token``: the reason is ours, never an echo of the token."""
    return AuthError(
        401,
        f"Invalid bearer token: {reason}" if reason else "Invalid bearer token",
        {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )


def insufficient_scope(scope: str) -> AuthError:
    """403: a valid token without the scope this route needs."""
    return AuthError(
        403,
        f"The token lacks the {scope!r} scope this request needs",
        {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        code="insufficient_scope",
    )


def issuer_unavailable() -> AuthError:
    """503: the issuer's keys could not be fetched, so no token can be checked now."""
    return AuthError(
        503,
        "The token issuer's signing keys cannot be fetched; retry later",
        {"Retry-After": RETRY_AFTER_SECONDS},
        code="auth_unavailable",
    )


class Authenticator(Protocol):
    """Checks a write request's bearer token; returns the subject the caller acts as."""

    async def authorise_write(self, token: str | None) -> str:
        """The caller's subject, or raise :class:`AuthError`."""
        ...


class StaticTokenAuthenticator:
    """``AUTH_MODE=token``: the bearer token must equal ``API_TOKEN``."""

    def __init__(self, expected: str) -> None:
        """``expected`` is API_TOKEN's value (empty refuses every token)."""
        self._expected = expected.encode()

    async def authorise_write(self, token: str | None) -> str:
        """:data:`TOKEN_PRINCIPAL` for the right token; 401 otherwise."""
        if token is None:
            raise missing_token("API_TOKEN")
        # Constant time, so response timing does not reveal how much of a guess matched.
        if not self._expected or not hmac.compare_digest(token.encode(), self._expected):
            raise AuthError(
                401, "Invalid bearer token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return TOKEN_PRINCIPAL


@dataclass(frozen=True)
class SigningKey:
    """One usable key of the issuer's JWKS, bound to the one algorithm it verifies."""

    algorithm: str
    key: Any  # a cryptography public key object


def _jwt() -> Any:
    """PyJWT, imported on first use: AUTH_MODE=token (the default) never needs it.

    Its import, with cryptography's, is ~30 ms of every Lambda cold start.
    """
    import jwt

    return jwt


def parse_jwks(document: Any) -> dict[str, SigningKey]:
    """``kid -> SigningKey`` for the RS256/ES256 signing keys of a JWKS; others are skipped.

    A symmetric (``oct``) key, an encryption key (``use: enc``), a key whose
    ``alg`` is not allowed or whose curve is not P-256 is never usable here.
    """
    jwt = _jwt()

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS: no 'keys' list")
    keys: dict[str, SigningKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        kty = entry.get("kty")
        algorithm = entry.get("alg") or ("RS256" if kty == "RSA" else "ES256")
        if ALLOWED_ALGORITHMS.get(algorithm) != kty:
            continue
        if kty == "EC" and entry.get("crv") != "P-256":
            continue
        try:
            keys[entry["kid"]] = SigningKey(algorithm, jwt.PyJWK(entry, algorithm).key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as error:
            log.warning("jwks key skipped", kid=entry["kid"][:_MAX_KID_LENGTH], error=str(error))
    return keys


def download_jwks(url: str, timeout: float) -> Any:
    """GET the JWKS document (blocking: runs in a worker thread, never on the event loop)."""
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in Settings
        url, headers={"Accept": "application/json", "User-Agent": "fastapi-on-aws"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - as above
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    return json.loads(body)


class JwksCache:
    """The issuer's signing keys: fetched on first use, kept, refreshed on an unknown ``kid``.

    Downloads run in a worker thread with a timeout, one at a time, and at most
    once per ``refresh_seconds`` whatever arrives: a flood of tokens with made-up
    key ids costs one download per interval, not one each. A failed download
    keeps the keys already known, so tokens signed with them still pass.
    """

    def __init__(self, url: str, timeout: float, refresh_seconds: float) -> None:
        """Nothing is fetched until the first token needs a key."""
        self.url = url
        self._timeout = timeout
        self._refresh_seconds = refresh_seconds
        self._keys: dict[str, SigningKey] = {}
        self._last_attempt: float | None = None
        self._last_ok = False
        self._lock: asyncio.Lock | None = None

    async def key(self, kid: str) -> SigningKey:
        """The key ``kid`` names: 401 if the issuer has no such key, 503 if it is unreachable."""
        if kid in self._keys:
            return self._keys[kid]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            # Another request may have refreshed while this one waited.
            if kid not in self._keys and self._may_refresh():
                await self._refresh()
        if kid in self._keys:
            return self._keys[kid]
        if not self._last_ok:
            raise issuer_unavailable()
        raise invalid_token("unknown signing key (kid)")

    def _may_refresh(self) -> bool:
        return (
            self._last_attempt is None
            or time.monotonic() - self._last_attempt >= self._refresh_seconds
        )

    async def _refresh(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            # wait_for bounds the whole download; urlopen's timeout only each socket read.
            document = await asyncio.wait_for(
                asyncio.to_thread(download_jwks, self.url, self._timeout), self._timeout * 2
            )
            keys = parse_jwks(document)
        except (OSError, ValueError, TimeoutError, http.client.HTTPException) as error:
            # URLError, HTTPError and socket timeouts are OSErrors; bad JSON a ValueError;
            # a truncated response an http.client.HTTPException.
            self._last_ok = False
            log.warning(
                "jwks fetch failed", url=self.url, error=f"{type(error).__name__}: {error}"[:300]
            )
            return
        self._keys = keys
        self._last_ok = True
        log.info("jwks fetched", url=self.url, keys=len(keys))


def token_scopes(claims: dict[str, Any]) -> set[str]:
    """The scopes granted: ``scope`` (space-separated, RFC 9068 and Cognito) or ``scp`` (a list)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return set(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return {item for item in scp if isinstance(item, str)}
    return set()


class JwtAuthenticator:
    """``AUTH_MODE=jwt``: a valid access token from the issuer, with the write scope."""

    def __init__(self, settings: Settings) -> None:
        """Take issuer, audience, scope and JWKS location from ``settings``."""
        if settings.auth_issuer is None or settings.auth_audience is None:
            # Settings refuses this already (auth_problems); kept for direct callers.
            raise ValueError("AUTH_MODE=jwt needs AUTH_ISSUER and AUTH_AUDIENCE")
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.write_scope = settings.auth_write_scope
        self.jwks = JwksCache(
            settings.jwks_url,
            settings.auth_jwks_timeout_seconds,
            settings.auth_jwks_refresh_seconds,
        )

    async def authorise_write(self, token: str | None) -> str:
        """The token's subject, once it is verified and carries the write scope."""
        if token is None:
            raise missing_token("access token")
        claims = await self.verify(token)
        if self.write_scope not in token_scopes(claims):
            raise insufficient_scope(self.write_scope)
        subject = claims.get("sub") or claims.get("client_id")
        if not isinstance(subject, str) or not subject:
            raise invalid_token("token has no subject (sub or client_id)")
        return subject

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token signed by the issuer, for this audience, valid now."""
        jwt = _jwt()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise invalid_token("malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise invalid_token("algorithm not accepted (RS256 or ES256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_LENGTH:
            raise invalid_token("token has no key id (kid)")
        key = await self.jwks.key(kid)
        if key.algorithm != algorithm:
            raise invalid_token("algorithm does not match the signing key")
        claims = self._decode(token, key)
        self._check_audience(claims)
        # Cognito ID tokens are signed by the same keys; only access tokens grant scopes.
        if claims.get("token_use", "access") != "access":
            raise invalid_token("not an access token")
        return claims

    def _decode(self, token: str, key: SigningKey) -> dict[str, Any]:
        jwt = _jwt()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                # aud or client_id is checked below: Cognito access tokens have no aud.
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise invalid_token("token expired") from None
        except jwt.ImmatureSignatureError:
            raise invalid_token("token not yet valid") from None
        except jwt.InvalidIssuerError:
            raise invalid_token("token from another issuer") from None
        except jwt.InvalidSignatureError:
            raise invalid_token("bad signature") from None
        except jwt.InvalidTokenError:
            raise invalid_token("token failed verification") from None
        return claims

    def _check_audience(self, claims: dict[str, Any]) -> None:
        audience = claims.get("aud")
        if audience is not None:
            audiences = [audience] if isinstance(audience, str) else audience
            if not isinstance(audiences, list) or self.audience not in audiences:
                raise invalid_token("token for another audience")
        elif claims.get("client_id") != self.audience:
            raise invalid_token("token for another audience (client_id)")


def create_authenticator(settings: Settings) -> Authenticator:
    """The authenticator ``AUTH_MODE`` selects (no I/O: JWKS are fetched on first use)."""
    if settings.auth_mode == "jwt":
        return JwtAuthenticator(settings)
    expected = settings.api_token.get_secret_value() if settings.api_token else ""
    return StaticTokenAuthenticator(expected)
