"""The tagging policy (infra/policies/tagging.py): C7.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest

from infra.policies import tagging
from infra.policies.resource_types import (
    T_LAMBDA,
    T_RDS_INSTANCE,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DELETE,
    DF,
    PL,
    Bad,
    assert_reported,
    set_path,
)

BAD: tuple[Bad, ...] = (
    Bad(
        "required-tags",
        DF,
        T_RDS_INSTANCE,
        "instance",
        lambda p: p["tags"].pop("compute"),
        ("compute", "register_stack_tags"),
    ),
    Bad(
        "required-tags",
        PL,
        T_LAMBDA,
        "app-function",
        set_path("tags", DELETE),
        ("project, stack, compute",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of tagging.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in tagging.SPECS}
