"""Subnet CIDR carving: a pure function, tested without Pulumi."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# The VPC is cut into 16 equal blocks. Public subnet i takes block i and
# private subnet i takes block PRIVATE_OFFSET + i, so adding an AZ later only
# adds subnets and never renumbers (and so never replaces) the existing ones.
SPLIT_BITS = 4
PRIVATE_OFFSET = 8
MAX_AZS = PRIVATE_OFFSET


@dataclass(frozen=True)
class SubnetPlan:
    """Public and private subnet CIDRs, index i of each in availability zone i."""

    public: tuple[str, ...]
    private: tuple[str, ...]


def plan_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Carve one public and one private subnet per AZ out of ``vpc_cidr``."""
    network = ipaddress.ip_network(vpc_cidr, strict=True)
    if not isinstance(network, ipaddress.IPv4Network):
        raise ValueError(f"vpc CIDR {vpc_cidr!r} must be IPv4")
    if network.prefixlen + SPLIT_BITS > 28:
        raise ValueError(
            f"vpc CIDR {vpc_cidr!r} is too small: subnets would be smaller than /28, "
            "the smallest AWS allows; use a prefix of /24 or shorter"
        )
    if not 1 <= az_count <= MAX_AZS:
        raise ValueError(f"az_count {az_count} must be between 1 and {MAX_AZS}")
    blocks = list(network.subnets(prefixlen_diff=SPLIT_BITS))
    return SubnetPlan(
        public=tuple(str(blocks[i]) for i in range(az_count)),
        private=tuple(str(blocks[PRIVATE_OFFSET + i]) for i in range(az_count)),
    )
