"""Who may write to the service: the ``auth*`` keys' rules and the settings they give it.

``authMode: token`` (the default) keeps the static API_TOKEN and changes
nothing in a stack. ``authMode: jwt`` makes the service verify JWTs
(docs/contracts.md, "Authentication") from either an Amazon Cognito user pool
the stack creates (``authCognito: true``: a resource server with the write
scope and one machine-to-machine app client) or any external issuer
(``authIssuer`` + ``authAudience``). Pure functions of the config values, so
every rule is testable without the Pulumi runtime.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from infra.documents.naming import PROJECT

AUTH_MODES: Final = ("token", "jwt")
# The resource server's identifier: Cognito puts "<identifier>/<scope>" into
# access tokens, so the service's AUTH_WRITE_SCOPE is that pair.
RESOURCE_SERVER_IDENTIFIER: Final = PROJECT
# Machine-to-machine tokens live an hour (Cognito allows 5 minutes to 1 day);
# the policy pack (infra/policies/identity.py) holds every client to these bounds.
ACCESS_TOKEN_VALIDITY_MINUTES: Final = 60
MIN_TOKEN_VALIDITY_MINUTES: Final = 5
MAX_TOKEN_VALIDITY_MINUTES: Final = 24 * 60
# The app client's secret, beside the stack's other SecureStrings.
CLIENT_SECRET_LEAF: Final = "auth-client-secret"  # noqa: S105 - a parameter name
# The settings the service reads (service/config.py); none is a secret.
ENVIRONMENT_VARIABLES: Final = ("AUTH_MODE", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_WRITE_SCOPE")

# A Cognito custom scope name: printable ASCII without space, '"', '/' or '\'.
_COGNITO_SCOPE = re.compile(r"^[\x21\x23-\x2e\x30-\x5b\x5d-\x7e]{1,256}$")
# Any OAuth scope (RFC 6749 section 3.3), as the service accepts it.
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,256}$")
_ISSUER = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~%/-]*)?$")
_AUDIENCE = re.compile(r"^[\x21-\x7e]{1,256}$")


class AuthConfigError(ValueError):
    """An ``auth*`` key is malformed or contradicts another one."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        """Remember which key, its value and what is allowed (``ConfigError`` wording)."""
        super().__init__(f"{key}={value!r}: {allowed}")
        self.key = key
        self.value = value
        self.allowed = allowed


@dataclass(frozen=True)
class AuthConfig:
    """The ``auth*`` keys of one stack."""

    mode: str = "token"
    cognito: bool = False
    issuer: str = ""
    audience: str = ""
    write_scope: str = "items:write"

    @classmethod
    def from_values(cls, text: Callable[[str], str], flag: Callable[[str], bool]) -> AuthConfig:
        """Read the keys through StackConfig's typed accessors."""
        return cls(
            mode=text("authMode").lower(),
            cognito=flag("authCognito"),
            issuer=text("authIssuer"),
            audience=text("authAudience"),
            write_scope=text("authWriteScope"),
        )

    @property
    def jwt(self) -> bool:
        """Whether the service verifies JWTs (``authMode: jwt``)."""
        return self.mode == "jwt"

    @property
    def creates_pool(self) -> bool:
        """Whether the stack creates the Cognito user pool (``authCognito``)."""
        return self.jwt and self.cognito

    @property
    def service_write_scope(self) -> str:
        """AUTH_WRITE_SCOPE: Cognito prefixes a custom scope with its resource server."""
        if self.creates_pool:
            return f"{RESOURCE_SERVER_IDENTIFIER}/{self.write_scope}"
        return self.write_scope


def check(auth: AuthConfig, *, internet_egress: bool) -> None:
    """Raise :class:`AuthConfigError` naming the first ``auth*`` key that is wrong.

    ``internet_egress`` is false with ``natStrategy: none``: the service then
    cannot download the issuer's JWKS, which no VPC endpoint serves.
    """
    if auth.mode not in AUTH_MODES:
        raise AuthConfigError("authMode", auth.mode, "allowed: token, jwt")
    if not _SCOPE.fullmatch(auth.write_scope):
        raise AuthConfigError(
            "authWriteScope", auth.write_scope, "one OAuth scope: printable ASCII, no space"
        )
    if not auth.jwt:
        for key, value in (
            ("authCognito", auth.cognito),
            ("authIssuer", auth.issuer),
            ("authAudience", auth.audience),
        ):
            if value:
                raise AuthConfigError(key, value, "only used with authMode: jwt; leave it unset")
        return
    if not internet_egress:
        raise AuthConfigError(
            "authMode",
            auth.mode,
            "jwt needs a NAT gateway (natStrategy single or per-az): the service "
            "downloads the issuer's signing keys (JWKS) from the internet",
        )
    if auth.cognito:
        _check_cognito(auth)
    else:
        _check_external(auth)


def _check_cognito(auth: AuthConfig) -> None:
    """The pool is the issuer and its app client the audience: nothing else to name."""
    for key, value in (("authIssuer", auth.issuer), ("authAudience", auth.audience)):
        if value:
            raise AuthConfigError(
                key, value, "leave it unset with authCognito: true (the stack's pool decides it)"
            )
    if not _COGNITO_SCOPE.fullmatch(auth.write_scope):
        raise AuthConfigError(
            "authWriteScope",
            auth.write_scope,
            "a Cognito scope name: printable ASCII without space, '\"', '/' or '\\'",
        )


def _check_external(auth: AuthConfig) -> None:
    """An external issuer: an https URL and the audience its tokens carry."""
    if not _ISSUER.fullmatch(auth.issuer):
        raise AuthConfigError(
            "authIssuer",
            auth.issuer,
            "with authMode: jwt, an https:// issuer URL (or authCognito: true)",
        )
    if not _AUDIENCE.fullmatch(auth.audience):
        raise AuthConfigError(
            "authAudience",
            auth.audience,
            "with authIssuer, the aud (or Cognito client_id) the tokens carry",
        )


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The ``iss`` of a Cognito user pool's tokens (its JWKS sits under it)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def service_environment(auth: AuthConfig, issuer: str, audience: str) -> dict[str, str]:
    """The AUTH_* settings of a jwt-mode service; empty in token mode (the default)."""
    if not auth.jwt:
        return {}
    return {
        "AUTH_MODE": "jwt",
        "AUTH_ISSUER": issuer,
        "AUTH_AUDIENCE": audience,
        "AUTH_WRITE_SCOPE": auth.service_write_scope,
    }


def checked_environment(environment: Mapping[str, str] | None) -> dict[str, str]:
    """``environment`` once it holds AUTH_* settings only, each non-empty (env builders)."""
    values = dict(environment or {})
    unknown = sorted(set(values) - set(ENVIRONMENT_VARIABLES))
    empty = sorted(name for name, value in values.items() if not value)
    if unknown or empty:
        raise ValueError(f"auth environment: unknown {unknown}, empty {empty}")
    return values
