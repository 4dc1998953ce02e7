"""Identity policies (infra/policies/identity.py): the Cognito pool, its client, identity pools.

The stacks here run ``authMode: jwt`` with ``authCognito: true`` (the default
stacks create no Cognito resource). Each case breaks one real resource, or a
made-up identity pool, and expects the policy to name it and the fix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy

from infra.policies import identity
from tests.infra.conftest import BuildStack
from tests.infra.harness import ResourceRecord, StackResult
from tests.infra.policies.helpers import (
    DELETE,
    all_violations,
    resource_args,
    run_policy,
    set_path,
    spec_named,
)

JWT = {"authMode": "jwt", "authCognito": True}


@dataclass(frozen=True)
class BadIdentity:
    """One broken identity resource and what the policy must say."""

    policy: str
    stack: str
    type_: str
    name_suffix: str
    mutate: Callable[[dict[str, Any]], None]
    expect: str


BAD: tuple[BadIdentity, ...] = (
    BadIdentity(
        "cognito-user-pool",
        "dev",
        identity.T_USER_POOL,
        "pool",
        set_path("adminCreateUserConfig.allowAdminCreateUserOnly", False),
        "allow_admin_create_user_only",
    ),
    BadIdentity(
        "cognito-user-pool",
        "dev",
        identity.T_USER_POOL,
        "pool",
        set_path("adminCreateUserConfig", DELETE),
        "allow_admin_create_user_only",
    ),
    BadIdentity(
        "cognito-user-pool",
        "prod",
        identity.T_USER_POOL,
        "pool",
        set_path("deletionProtection", "INACTIVE"),
        "deletion_protection",
    ),
    BadIdentity(
        "cognito-app-client",
        "dev",
        identity.T_USER_POOL_CLIENT,
        "m2m-client",
        set_path("accessTokenValidity", 2),
        "between 5 minutes and 24 hours",
    ),
    BadIdentity(
        "cognito-app-client",
        "dev",
        identity.T_USER_POOL_CLIENT,
        "m2m-client",
        # 60 with the unit gone: Cognito reads hours, 2.5 days.
        set_path("tokenValidityUnits", DELETE),
        "3600 minutes",
    ),
    BadIdentity(
        "cognito-app-client",
        "dev",
        identity.T_USER_POOL_CLIENT,
        "m2m-client",
        set_path("accessTokenValidity", DELETE),
        "access_token_validity",
    ),
    BadIdentity(
        "cognito-app-client",
        "dev",
        identity.T_USER_POOL_CLIENT,
        "m2m-client",
        set_path("allowedOauthFlows", ["client_credentials", "implicit"]),
        "implicit grant",
    ),
    BadIdentity(
        "cognito-app-client",
        "prod",
        identity.T_USER_POOL_CLIENT,
        "m2m-client",
        set_path("generateSecret", False),
        "generate_secret",
    ),
    BadIdentity(
        "cognito-app-client",
        "dev",
        identity.T_USER_POOL_CLIENT,
        "m2m-client",
        set_path("enableTokenRevocation", False),
        "enable_token_revocation",
    ),
)


def jwt_stack(build_stack: BuildStack, stack: str) -> StackResult:
    """``stack`` (fargate) with the Cognito pool."""
    return build_stack(stack, compute="fargate", **JWT)


@pytest.mark.parametrize("bad", BAD, ids=[f"{b.policy}:{b.expect[:30]}" for b in BAD])
def test_b21_policy_reports_a_bad_resource(build_stack: BuildStack, bad: BadIdentity) -> None:
    """The real resource passes; the broken one is reported by name, with the fix."""
    result = jwt_stack(build_stack, bad.stack)
    record = result.one(bad.type_, bad.name_suffix)
    policy = spec_named(bad.policy)
    assert isinstance(policy, ResourceValidationPolicy)
    assert run_policy(policy, resource_args(result, record)) == []
    props = copy.deepcopy(record.inputs)
    bad.mutate(props)
    messages = run_policy(policy, resource_args(result, record, props))
    assert messages, f"{bad.policy} did not report {record.name}"
    assert any(record.name in m and "Fix:" in m for m in messages), messages
    assert any(bad.expect in m for m in messages), (bad.expect, messages)


def identity_pool(allow: object) -> ResourceRecord:
    """A made-up identity pool record (the program creates none)."""
    inputs: dict[str, Any] = {"identityPoolName": "callers"}
    if allow is not DELETE:
        inputs["allowUnauthenticatedIdentities"] = allow
    return ResourceRecord(
        type=identity.T_IDENTITY_POOL,
        name="callers",
        urn="urn:pulumi:dev::fastapi-on-aws::aws:cognito/identityPool:IdentityPool::callers",
        id="callers-id",
        custom=True,
        inputs=inputs,
        secret_inputs=frozenset(),
        outputs={},
        parent=None,
        protect=False,
        ignore_changes=(),
        delete_before_replace=False,
        replace_on_changes=(),
        depends_on=(),
        additional_secret_outputs=(),
    )


@pytest.mark.parametrize("allow", [True, DELETE], ids=["true", "unset"])
def test_b21_an_identity_pool_for_anonymous_callers_is_refused(
    build_stack: BuildStack, allow: object
) -> None:
    result = jwt_stack(build_stack, "dev")
    policy = spec_named("cognito-identity-pool")
    messages = run_policy(policy, resource_args(result, identity_pool(allow)))
    assert any("unauthenticated" in m and "Fix:" in m for m in messages), messages
    assert run_policy(policy, resource_args(result, identity_pool(False))) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("compute", ["fargate", "lambda"])
def test_b21_stacks_with_the_pool_raise_no_violation(
    build_stack: BuildStack, stack: str, compute: str
) -> None:
    """The whole pack over both shapes with the pool (and the AUTH_* settings) passes."""
    assert all_violations(build_stack(stack, compute=compute, **JWT)) == []


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of identity.py."""
    covered = {bad.policy for bad in BAD} | {"cognito-identity-pool"}
    assert covered == {spec.name for spec in identity.SPECS}
