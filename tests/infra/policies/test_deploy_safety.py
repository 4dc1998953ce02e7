"""Deploy-safety policies (infra/policies/deploy_safety.py): C2, C5.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest

from infra.policies import deploy_safety
from infra.policies.resource_types import (
    T_RDS_INSTANCE,
    T_TARGET_GROUP,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DF,
    PF,
    Bad,
    assert_reported,
    set_path,
)

BAD: tuple[Bad, ...] = (
    Bad(
        "explicit-names-delete-before-replace",
        DF,
        T_TARGET_GROUP,
        "tg",
        set_path("name", "fastapi-tg"),
        ("delete_before_replace",),
    ),
    Bad(
        "allowed-account-ids",
        PF,
        T_RDS_INSTANCE,
        "instance",
        lambda p: None,
        ("allowedAccountIds",),
        no_accounts=True,
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of deploy_safety.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in deploy_safety.SPECS}
