"""Subnet CIDR carving (pure function, no Pulumi)."""

from __future__ import annotations

import ipaddress

import pytest

from infra.documents.cidr import plan_subnets


@pytest.mark.parametrize("vpc", ["10.10.0.0/16", "10.20.0.0/16", "172.16.0.0/20", "10.0.0.0/24"])
@pytest.mark.parametrize("azs", [2, 3])
def test_subnets_are_inside_the_vpc_and_disjoint(vpc: str, azs: int) -> None:
    """Every subnet lies in the VPC and no two overlap."""
    plan = plan_subnets(vpc, azs)
    network = ipaddress.ip_network(vpc)
    subnets = [ipaddress.ip_network(c) for c in plan.public + plan.private]
    assert len(plan.public) == len(plan.private) == azs
    assert all(s.subnet_of(network) for s in subnets)  # type: ignore[arg-type]
    for i, a in enumerate(subnets):
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b)


def test_known_layout_for_a_slash_16() -> None:
    """Public subnets from the bottom, private from the middle, /20 each."""
    plan = plan_subnets("10.10.0.0/16", 2)
    assert plan.public == ("10.10.0.0/20", "10.10.16.0/20")
    assert plan.private == ("10.10.128.0/20", "10.10.144.0/20")


def test_adding_an_az_keeps_existing_cidrs() -> None:
    """Growing from 2 to 3 AZs only adds subnets, so nothing is replaced."""
    two, three = plan_subnets("10.20.0.0/16", 2), plan_subnets("10.20.0.0/16", 3)
    assert three.public[:2] == two.public
    assert three.private[:2] == two.private


@pytest.mark.parametrize(
    ("vpc", "azs", "message"),
    [
        ("10.0.0.0/26", 2, "too small"),
        ("10.0.0.0/16", 9, "between 1 and 8"),
        ("10.0.0.1/16", 2, "host bits"),
        ("fd00::/56", 2, "IPv4"),
    ],
)
def test_bad_inputs_are_refused(vpc: str, azs: int, message: str) -> None:
    """Clear errors for CIDRs that cannot be carved."""
    with pytest.raises(ValueError, match=message):
        plan_subnets(vpc, azs)
