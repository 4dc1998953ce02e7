"""The cheaper dev (docs/cost.md): every policy of the pack and the stack's invariants hold."""

from __future__ import annotations

import copy

import pytest

from infra.policies import POLICIES
from infra.tooling import cost_report
from tests.infra.harness import StackResult
from tests.infra.policies.helpers import all_violations as violations


@pytest.fixture(scope="module")
def cheap_dev() -> StackResult:
    """The dev stack with the cheaper-dev overrides, under mocks."""
    return cost_report.build_cheap_dev()


def test_the_cheaper_dev_is_the_documented_config(cheap_dev: StackResult) -> None:
    """The overrides reached the program: Lambda shape, arm64, 512 MB, 7-day logs."""
    config = cheap_dev.config
    assert config["fastapi-on-aws:compute"] == "lambda"
    assert config["fastapi-on-aws:production"] == "false"
    function = cheap_dev.one("aws:lambda/function:Function", "app-function")
    assert function.inputs["architectures"] == ["arm64"]
    assert function.inputs["memorySize"] == 512
    for group in cheap_dev.find("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["retentionInDays"] == 7, group.name


def test_the_cheaper_dev_passes_every_policy(cheap_dev: StackResult) -> None:
    """No policy of the pack reports anything on the cheaper dev."""
    assert len(POLICIES) > 30
    assert violations(cheap_dev) == []


def test_the_policy_loop_can_fail(cheap_dev: StackResult) -> None:
    """The same loop reports a broken copy (a log group without retention)."""
    broken = copy.deepcopy(cheap_dev)
    group = broken.find("aws:cloudwatch/logGroup:LogGroup")[0]
    group.inputs.pop("retentionInDays")
    group.outputs.pop("retentionInDays", None)
    assert any("log-group-retention" in message for message in violations(broken))


def test_the_cheaper_dev_keeps_the_stack_invariants(cheap_dev: StackResult) -> None:
    """The invariants the cost cut could touch: private placement, one NAT, Multi-AZ subnets,
    the proxy across two AZs, TLS to the cache, secrets as SecureStrings."""
    subnets = cheap_dev.find("aws:ec2/subnet:Subnet")
    assert len({s.inputs["availabilityZone"] for s in subnets}) == 2
    assert len(cheap_dev.find("aws:ec2/natGateway:NatGateway")) == 1
    assert cheap_dev.find("aws:lb/loadBalancer:LoadBalancer") == []
    proxy = cheap_dev.one("aws:rds/proxy:Proxy")
    assert proxy.inputs["requireTls"] is True
    assert len(proxy.inputs["vpcSubnetIds"]) == 2
    cache = cheap_dev.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert cache.inputs["transitEncryptionEnabled"] is True
    for parameter in cheap_dev.find("aws:ssm/parameter:Parameter"):
        assert parameter.inputs["type"] == "SecureString", parameter.name
    function = cheap_dev.one("aws:lambda/function:Function", "app-function")
    assert function.inputs["vpcConfig"]["subnetIds"], "the function runs in the private subnets"
