"""Identity guardrails: the Cognito user pool, its app clients and any identity pool (B21).

No unauthenticated identities: an identity pool must not hand out AWS
credentials to anonymous callers, and a user pool must not let anyone sign
up (administrators only: the stack's pool has no users at all). App clients
issue short-lived access tokens (5 minutes to a day), never through the
implicit grant (a token in a browser URL), and a client-credentials client
has a generated secret and revocable tokens.

Off on purpose: MFA and threat protection ("advanced security"). Both guard
a *user's* sign-in, and a machine-to-machine pool has no users; its client
proves itself with its secret, which lives only in an SSM SecureString (B7,
B8). Threat protection is also billed per monthly active user, of which such
a pool has none to protect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from infra.documents.identity import MAX_TOKEN_VALIDITY_MINUTES, MIN_TOKEN_VALIDITY_MINUTES
from infra.policies.base import (
    Fail,
    PolicySpec,
    is_production,
    number,
    resource_check,
    resource_policy,
)

T_USER_POOL: Final = "aws:cognito/userPool:UserPool"
T_USER_POOL_CLIENT: Final = "aws:cognito/userPoolClient:UserPoolClient"
T_IDENTITY_POOL: Final = "aws:cognito/identityPool:IdentityPool"

# Cognito's unit per token when token_validity_units leaves it out (the API's defaults).
_DEFAULT_UNITS: Final = {"accessToken": "hours", "idToken": "hours"}
_MINUTES_PER: Final = {"seconds": 1 / 60, "minutes": 1, "hours": 60, "days": 24 * 60}


@resource_check(T_USER_POOL)
def _user_pool(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B21: administrators alone create users; prod pools refuse deletion."""
    admin = props.get("adminCreateUserConfig") or {}
    if admin.get("allowAdminCreateUserOnly") is not True:
        fail(
            "anyone may sign up to the user pool",
            "set admin_create_user_config.allow_admin_create_user_only=True",
        )
    if is_production(args.get_config()) and props.get("deletionProtection") != "ACTIVE":
        fail(
            "prod user pool can be deleted (every caller's client with it)",
            'set deletion_protection="ACTIVE"',
        )


def _validity_minutes(props: Mapping[str, Any], key: str) -> float | None:
    """A token's validity in minutes, from its value and its unit (or Cognito's default unit)."""
    value = number(props.get(f"{key}Validity"))
    if value is None:
        return None
    units = props.get("tokenValidityUnits") or {}
    unit = units.get(key) or _DEFAULT_UNITS[key]
    return value * _MINUTES_PER.get(str(unit), 60)


@resource_check(T_USER_POOL_CLIENT)
def _app_client(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """B21: short-lived tokens, no implicit grant; client credentials need a secret."""
    for key in ("accessToken", "idToken"):
        minutes = _validity_minutes(props, key)
        if minutes is None:
            continue
        if not MIN_TOKEN_VALIDITY_MINUTES <= minutes <= MAX_TOKEN_VALIDITY_MINUTES:
            fail(
                f"{key} tokens live {minutes:g} minutes",
                f"keep them between {MIN_TOKEN_VALIDITY_MINUTES} minutes and "
                f"{MAX_TOKEN_VALIDITY_MINUTES // 60} hours",
            )
    if number(props.get("accessTokenValidity")) is None:
        fail("no access token validity is set", "set access_token_validity (minutes)")
    flows = list(props.get("allowedOauthFlows") or [])
    if "implicit" in flows:
        fail("the implicit grant is allowed", "use client_credentials (or code with PKCE)")
    if "client_credentials" in flows and props.get("generateSecret") is not True:
        fail("a client-credentials client without a secret", "set generate_secret=True")
    if props.get("enableTokenRevocation") is False:
        fail("tokens cannot be revoked", "set enable_token_revocation=True")


@resource_check(T_IDENTITY_POOL)
def _identity_pool(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """B21: no AWS credentials for unauthenticated identities."""
    if props.get("allowUnauthenticatedIdentities") is not False:
        fail(
            "the identity pool gives credentials to unauthenticated identities",
            "set allow_unauthenticated_identities=False",
        )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "cognito-user-pool",
        "Cognito user pools: no self sign-up; prod pools refuse deletion.",
        "B21",
        _user_pool,
    ),
    resource_policy(
        "cognito-app-client",
        "Cognito app clients: tokens live 5 minutes to a day, no implicit grant, "
        "client credentials with a secret, revocable tokens.",
        "B21",
        _app_client,
    ),
    resource_policy(
        "cognito-identity-pool",
        "Cognito identity pools: no unauthenticated identities.",
        "B21",
        _identity_pool,
    ),
)
