"""Security-group policies (infra/policies/security_groups.py): B1-B3.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest

from infra.policies import security_groups
from infra.policies.resource_types import (
    T_INGRESS_RULE,
    T_SECURITY_GROUP,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DELETE,
    DF,
    DL,
    PF,
    PL,
    Bad,
    assert_reported,
    on_props,
    set_path,
)

BAD: tuple[Bad, ...] = (
    Bad(
        "security-group-descriptions",
        DF,
        T_SECURITY_GROUP,
        "task-sg",
        set_path("description", ""),
        ("description",),
    ),
    Bad(
        "security-group-descriptions",
        DL,
        T_INGRESS_RULE,
        "proxy-in-function",
        set_path("description", DELETE),
        ("description",),
    ),
    Bad(
        "security-group-descriptions",
        PF,
        T_SECURITY_GROUP,
        "database-sg",
        set_path(
            "ingress",
            [
                {
                    "protocol": "tcp",
                    "fromPort": 5432,
                    "toPort": 5432,
                    "description": "x",
                    "securityGroups": ["sg-1"],
                }
            ],
        ),
        ("separate",),
    ),
    Bad(
        "world-ingress-only-to-alb",
        DF,
        T_INGRESS_RULE,
        "task-in-alb",
        on_props(lambda p: p.update(cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None)),
        ("whole internet",),
    ),
    Bad(
        "world-ingress-only-to-alb",
        PF,
        T_INGRESS_RULE,
        "alb-in-443",
        on_props(lambda p: p.update(fromPort=0, toPort=65535)),
        ("80 or 443",),
    ),
    Bad(
        "ingress-from-security-groups",
        PL,
        T_INGRESS_RULE,
        "db-in-proxy",
        on_props(lambda p: p.update(cidrIpv4="10.20.0.0/16", referencedSecurityGroupId=None)),
        ("referenced_security_group_id",),
    ),
    Bad(
        "ingress-from-security-groups",
        DF,
        T_INGRESS_RULE,
        "cache-in-tasks",
        on_props(lambda p: p.update(fromPort=0, toPort=65535)),
        ("only port 6379",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of security_groups.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in security_groups.SPECS}
