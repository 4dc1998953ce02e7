"""Network guardrails: subnets, multi-AZ placement, private placement and egress.

A1 (ALB and data subnet groups span 2+ AZs), A7 (private workloads reach ECR,
logs and SSM), A13/B4 (private subnets only, no public IPs on launch). The
security-group rules are in ``security_groups.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policies.base import (
    Fail,
    PolicySpec,
    StackFail,
    StackView,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_CACHE_SUBNET_GROUP,
    T_ECS_SERVICE,
    T_LAMBDA,
    T_LOAD_BALANCER,
    T_NAT_GATEWAY,
    T_RDS_PROXY,
    T_RDS_SUBNET_GROUP,
    T_ROUTE,
    T_RT_ASSOCIATION,
    T_SUBNET,
    T_VPC_ENDPOINT,
)


@resource_check(T_SUBNET)
def _subnet(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """B4: no subnet hands out public IPs (the ALB does not need it)."""
    if props.get("mapPublicIpOnLaunch"):
        fail("maps public IPs on launch", "set map_public_ip_on_launch=False")


@stack_check
def _multi_az(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A1: ALB, RDS subnet group and ElastiCache subnet group span 2+ AZs."""
    for resource, key in (
        *((lb, "subnets") for lb in view.of_type(T_LOAD_BALANCER)),
        *((group, "subnetIds") for group in view.of_type(T_RDS_SUBNET_GROUP, T_CACHE_SUBNET_GROUP)),
    ):
        zones = {
            subnet.props.get("availabilityZone") for subnet in view.refs(resource, key, T_SUBNET)
        }
        if len(zones - {None}) < 2:
            fail(
                resource,
                f"spans {len(zones - {None})} availability zone(s)",
                "give it subnets in at least 2 AZs (azCount >= 2)",
            )


@stack_check
def _private_placement(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A13 and B4: proxy, tasks, functions and data subnet groups live in private subnets."""
    public = view.public_subnets()
    placed = (
        [(proxy, "vpcSubnetIds") for proxy in view.of_type(T_RDS_PROXY)]
        + [(service, "networkConfiguration") for service in view.of_type(T_ECS_SERVICE)]
        + [(function, "vpcConfig") for function in view.of_type(T_LAMBDA)]
        + [(group, "subnetIds") for group in view.of_type(T_RDS_SUBNET_GROUP, T_CACHE_SUBNET_GROUP)]
    )
    for resource, key in placed:
        exposed = sorted(
            subnet.name for subnet in view.refs(resource, key, T_SUBNET) if subnet.urn in public
        )
        if exposed:
            fail(
                resource,
                f"is placed in public subnets ({', '.join(exposed)})",
                "use the network's private subnets",
            )


@stack_check
def _private_egress(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A7: private tasks/functions reach ECR, logs and SSM through NAT or VPC endpoints."""
    workloads = [(service, "networkConfiguration") for service in view.of_type(T_ECS_SERVICE)] + [
        (function, "vpcConfig") for function in view.of_type(T_LAMBDA)
    ]
    if not workloads:
        return
    nat_tables = {
        table.urn
        for route in view.of_type(T_ROUTE)
        if view.refs(route, "natGatewayId", T_NAT_GATEWAY)
        and route.props.get("destinationCidrBlock") == "0.0.0.0/0"
        for table in view.refs(route, "routeTableId")
    }
    endpoints = {
        str(endpoint.props.get("serviceName", "")).rsplit(".", 1)[-1]
        for endpoint in view.of_type(T_VPC_ENDPOINT)
    }
    endpoint_names = {
        str(endpoint.props.get("serviceName", "")) for endpoint in view.of_type(T_VPC_ENDPOINT)
    }
    has_endpoints = (
        {"logs", "ssm", "s3"} <= endpoints
        and any(name.endswith("ecr.dkr") for name in endpoint_names)
        and any(name.endswith("ecr.api") for name in endpoint_names)
    )
    for resource, key in workloads:
        for subnet in view.refs(resource, key, T_SUBNET):
            tables = {
                table.urn
                for association in view.referring(subnet, "subnetId", T_RT_ASSOCIATION)
                for table in view.refs(association, "routeTableId")
            }
            if not (tables & nat_tables) and not has_endpoints:
                fail(
                    resource,
                    f"subnet {subnet.name} has no route to a NAT gateway and the VPC "
                    "lacks endpoints for ECR, logs and SSM",
                    "set natStrategy single/per-az, or vpcEndpoints: true",
                )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy("no-public-ip-on-launch", "Subnets never map public IPs.", "B4", _subnet),
    stack_policy(
        "multi-az-placement", "ALB and data subnet groups span at least 2 AZs.", "A1", _multi_az
    ),
    stack_policy(
        "private-placement",
        "Proxy, tasks, functions and data subnet groups use private subnets.",
        "A13 B4",
        _private_placement,
    ),
    stack_policy(
        "private-egress-path",
        "Private workloads reach ECR, logs and SSM through NAT or VPC endpoints.",
        "A7",
        _private_egress,
    ),
)
