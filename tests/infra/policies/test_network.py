"""Network policies (infra/policies/network.py): subnets, AZs, placement, egress.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource

from infra.policies import network
from infra.policies.resource_types import (
    T_ECS_SERVICE,
    T_LAMBDA,
    T_RDS_PROXY,
    T_RDS_SUBNET_GROUP,
    T_SUBNET,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    CURRENT_RESOURCES,
    DF,
    DL,
    PL,
    Bad,
    assert_reported,
    set_path,
)


def _swap_subnets(resource: PolicyResource, key: str) -> None:
    """Point a resource's subnet references at the public subnets (same stack)."""
    publics = [r for r in CURRENT_RESOURCES if r.resource_type == T_SUBNET and "public" in r.name]
    deps = resource.property_dependencies[key]
    deps[:] = [d for d in deps if d.resource_type != T_SUBNET] + publics


BAD: tuple[Bad, ...] = (
    Bad(
        "no-public-ip-on-launch",
        DF,
        T_SUBNET,
        "private-0",
        set_path("mapPublicIpOnLaunch", True),
        ("map_public_ip_on_launch",),
    ),
    Bad(
        "multi-az-placement",
        DF,
        T_RDS_SUBNET_GROUP,
        "database-subnets",
        lambda r: [
            s.props.update(availabilityZone="eu-west-1a")
            for s in r.property_dependencies["subnetIds"]
        ],
        ("2 AZs",),
    ),
    Bad(
        "private-placement",
        PL,
        T_RDS_PROXY,
        "proxy",
        lambda r: _swap_subnets(r, "vpcSubnetIds"),
        ("public subnets",),
    ),
    Bad(
        "private-placement",
        DF,
        T_ECS_SERVICE,
        "service",
        lambda r: _swap_subnets(r, "networkConfiguration"),
        ("public subnets",),
    ),
    Bad(
        "private-egress-path",
        DL,
        T_LAMBDA,
        "app-function",
        lambda r: _swap_subnets(r, "vpcConfig"),
        ("NAT gateway",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of network.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in network.SPECS}
