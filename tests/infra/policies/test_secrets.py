"""Secret policies (infra/policies/secrets.py): SSM, passwords, plaintext, proxy secret.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource

from infra.policies import secrets
from infra.policies.resource_types import (
    T_LAMBDA,
    T_RANDOM_PASSWORD,
    T_SECRET_VERSION,
    T_SSM_PARAMETER,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    CURRENT_SECRET,
    DELETE,
    DF,
    DL,
    PL,
    Bad,
    assert_reported,
    drop_dependency,
    set_path,
)


def _ssm_value(resource: PolicyResource) -> str:
    """A secret value from the stack the resource belongs to (set by the test)."""
    return str(CURRENT_SECRET[0])


BAD: tuple[Bad, ...] = (
    Bad(
        "ssm-secure-string",
        DF,
        T_SSM_PARAMETER,
        "api-token",
        set_path("type", "String"),
        ("SecureString",),
    ),
    Bad(
        "generated-password-charset",
        DF,
        T_RANDOM_PASSWORD,
        "database-password",
        set_path("overrideSpecial", DELETE),
        ("override_special",),
    ),
    Bad(
        "generated-password-charset",
        DF,
        T_RANDOM_PASSWORD,
        "redis-password",
        set_path("overrideSpecial", "!@#"),
        ("override_special",),
    ),
    Bad(
        "no-plaintext-secrets",
        DL,
        T_LAMBDA,
        "app-function",
        lambda r: r.props["environment"]["variables"].update(EXTRA="x" + _ssm_value(r)),
        ("plain text",),
    ),
    Bad(
        "proxy-secret-follows-password",
        PL,
        T_SECRET_VERSION,
        "proxy-credentials-value",
        drop_dependency(T_RANDOM_PASSWORD, "secretString"),
        ("generated password",),
        reports="app-proxy-credentials",
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of secrets.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in secrets.SPECS}
