"""Network layer: AZ spread, NAT or endpoints, public IPs, security groups, flow logs."""

from __future__ import annotations

import pytest

from tests.infra.checks import (
    EGRESS_RULE,
    INGRESS_RULE,
    SECURITY_GROUP,
    SUBNET,
    as_document,
    assert_iam_policy,
    private_subnet_ids,
    subnet_azs,
)
from tests.infra.conftest import BuildStack
from tests.infra.harness import StackResult

NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def test_subnets_span_the_configured_azs(env_stack: StackResult) -> None:
    """One public and one private subnet per AZ, each pair in a distinct AZ."""
    expected = int(env_stack.config["fastapi-on-aws:azCount"])
    public = [r for r in env_stack.find(SUBNET) if "-public-" in r.name]
    private = [r for r in env_stack.find(SUBNET) if "-private-" in r.name]
    assert len(public) == len(private) == expected
    assert len({r.inputs["availabilityZone"] for r in public}) == expected
    assert len({r.inputs["availabilityZone"] for r in private}) == expected


def test_a1_subnet_groups_span_two_azs(variant: StackResult) -> None:
    """A1: the RDS and ElastiCache subnet groups each span at least two AZs."""
    for token in ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup"):
        group = variant.one(token)
        assert len(subnet_azs(variant, group.inputs["subnetIds"])) >= 2
        assert set(group.inputs["subnetIds"]) == set(private_subnet_ids(variant))


def test_a1_load_balancers_span_two_azs(variant: StackResult) -> None:
    """A1: any load balancer spans at least two AZs (the Fargate shape has exactly one)."""
    balancers = variant.find(LOAD_BALANCER)
    if variant.outputs["compute"] == "fargate":
        assert len(balancers) == 1
    for balancer in balancers:
        assert len(subnet_azs(variant, balancer.inputs["subnets"])) >= 2


def test_b4_no_subnet_maps_public_ips(variant: StackResult) -> None:
    """B4: no subnet assigns public IPs on launch (the private ones above all)."""
    for subnet in variant.find(SUBNET):
        assert subnet.inputs.get("mapPublicIpOnLaunch") is False, subnet.name


def _private_tables(stack: StackResult) -> dict[str, str]:
    """private subnet id -> its route table id."""
    tables = {}
    for association in stack.find(ASSOCIATION):
        if "-private-" in association.name:
            tables[association.inputs["subnetId"]] = association.inputs["routeTableId"]
    return tables


def _default_routes(stack: StackResult) -> dict[str, dict[str, object]]:
    return {
        route.inputs["routeTableId"]: route.inputs
        for route in stack.find(ROUTE)
        if route.inputs.get("destinationCidrBlock") == "0.0.0.0/0"
    }


def test_a7_private_subnets_reach_aws_through_nat(variant: StackResult) -> None:
    """A7: with a NAT strategy, every private subnet's default route goes to a NAT gateway."""
    tables = _private_tables(variant)
    routes = _default_routes(variant)
    nat_ids = {nat.id for nat in variant.find(NAT)}
    assert set(tables) == set(private_subnet_ids(variant))
    for table_id in tables.values():
        assert routes[table_id].get("natGatewayId") in nat_ids


def test_nat_strategy_single_in_dev_per_az_in_prod(build_stack: BuildStack) -> None:
    """dev: one NAT; prod: one NAT per AZ, each private table routed to its own AZ's NAT."""
    assert len(build_stack("dev").find(NAT)) == 1
    prod = build_stack("prod")
    nats = prod.find(NAT)
    assert len(nats) == 3
    public_by_id = {r.id: r for r in prod.find(SUBNET)}
    nat_az = {
        nat.id: public_by_id[nat.inputs["subnetId"]].inputs["availabilityZone"] for nat in nats
    }
    assert len(set(nat_az.values())) == 3
    routes = _default_routes(prod)
    for subnet_id, table_id in _private_tables(prod).items():
        subnet_az = public_by_id[subnet_id].inputs["availabilityZone"]
        assert nat_az[str(routes[table_id]["natGatewayId"])] == subnet_az


def test_a7_without_nat_vpc_endpoints_serve_the_private_subnets(build_stack: BuildStack) -> None:
    """A7: natStrategy none creates the S3 gateway and ECR/logs/SSM interface endpoints."""
    stack = build_stack("dev", natStrategy="none", vpcEndpoints=True)
    assert not stack.find(NAT)
    assert not _default_routes(stack).keys() & set(_private_tables(stack).values())
    endpoints = {r.inputs["serviceName"]: r for r in stack.find(ENDPOINT)}
    expected = {f"com.amazonaws.eu-west-1.{s}" for s in ("s3", "ecr.api", "ecr.dkr", "logs", "ssm")}
    assert set(endpoints) == expected
    gateway = endpoints["com.amazonaws.eu-west-1.s3"]
    assert gateway.inputs["vpcEndpointType"] == "Gateway"
    assert set(gateway.inputs["routeTableIds"]) == set(_private_tables(stack).values())
    for name, endpoint in endpoints.items():
        if name.endswith(".s3"):
            continue
        assert endpoint.inputs["vpcEndpointType"] == "Interface"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert set(endpoint.inputs["subnetIds"]) == set(private_subnet_ids(stack))
    # The endpoints' security group admits HTTPS from the VPC only (B1).
    rule = stack.one(INGRESS_RULE, "endpoints-https")
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)
    assert rule.inputs["cidrIpv4"] == "10.10.0.0/16"


def test_b1_no_world_open_ingress_except_alb_web_ports(variant: StackResult) -> None:
    """B1: ingress from 0.0.0.0/0 or ::/0 only on 80/443 of a load balancer's group."""
    lb_groups = {sg for lb in variant.find(LOAD_BALANCER) for sg in lb.inputs["securityGroups"]}
    for rule in variant.find(INGRESS_RULE):
        cidrs = {rule.inputs.get("cidrIpv4"), rule.inputs.get("cidrIpv6")}
        if cidrs & set(OPEN_CIDRS):
            assert rule.inputs["securityGroupId"] in lb_groups, rule.name
            assert rule.inputs["fromPort"] == rule.inputs["toPort"]
            assert rule.inputs["fromPort"] in (80, 443), rule.name


def test_b2_data_security_groups_admit_only_groups_on_their_port(variant: StackResult) -> None:
    """B2: database and cache groups admit only other security groups, on 5432 / 6379."""
    for suffix, port in (("database-sg", 5432), ("cache-sg", 6379)):
        group = variant.one(SECURITY_GROUP, suffix)
        rules = [r for r in variant.find(INGRESS_RULE) if r.inputs["securityGroupId"] == group.id]
        for rule in rules:
            assert rule.inputs.get("referencedSecurityGroupId"), rule.name
            assert "cidrIpv4" not in rule.inputs
            assert "cidrIpv6" not in rule.inputs
            assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (port, port)
        if variant.outputs["compute"] == "fargate":
            assert rules, f"the Fargate shape must admit its tasks to {suffix}"


def test_b3_every_group_and_rule_is_described_and_rules_are_separate(
    variant: StackResult,
) -> None:
    """B3: descriptions everywhere; inline rules are never used (only rule resources)."""
    for group in variant.find(SECURITY_GROUP):
        assert group.inputs.get("description"), group.name
        assert not group.inputs.get("ingress"), group.name
        assert not group.inputs.get("egress"), group.name
    for rule in variant.find(INGRESS_RULE) + variant.find(EGRESS_RULE):
        assert rule.inputs.get("description"), rule.name


def test_default_security_group_is_stripped(variant: StackResult) -> None:
    """The VPC's default security group is adopted with no rules at all."""
    default = variant.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress")
    assert not default.inputs.get("egress")
    assert default.inputs["vpcId"] == variant.outputs["vpcId"]


def test_flow_logs_in_prod_only(build_stack: BuildStack) -> None:
    """prod sends all VPC traffic logs to a retained log group; dev has none."""
    assert not build_stack("dev").find("aws:ec2/flowLog:FlowLog")
    prod = build_stack("prod")
    flow = prod.one("aws:ec2/flowLog:FlowLog")
    group = prod.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    role = prod.one("aws:iam/role:Role", "network-flow-logs")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["vpcId"] == prod.outputs["vpcId"]
    assert flow.inputs["logDestination"] == group.outputs["arn"]
    assert flow.inputs["iamRoleArn"] == role.outputs["arn"]
    assert group.inputs["retentionInDays"] >= 365
    trust = as_document(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    policy = prod.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs")
    assert_iam_policy(policy.inputs["policy"])
    write = as_document(policy.inputs["policy"])["Statement"][0]
    assert group.outputs["arn"] in write["Resource"]


@pytest.mark.parametrize("azs", [2, 3])
def test_az_count_override_changes_subnet_count(build_stack: BuildStack, azs: int) -> None:
    """azCount drives the subnet count in any stack."""
    stack = build_stack("prod", azCount=azs)
    assert len(stack.find(SUBNET)) == 2 * azs
    assert len(stack.find(NAT)) == azs
