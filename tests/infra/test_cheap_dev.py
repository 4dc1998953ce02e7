"""The cheaper dev (docs/cost.md): every policy of the pack and the stack's invariants hold."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from infra.policies import POLICIES
from infra.tooling import cost_report
from tests.infra.harness import ResourceRecord, StackResult


@pytest.fixture(scope="module")
def cheap_dev() -> StackResult:
    """The dev stack with the cheaper-dev overrides, under mocks."""
    return cost_report.build_cheap_dev()


def _options(record: ResourceRecord) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record.protect,
        ignore_changes=list(record.ignore_changes),
        delete_before_replace=record.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(record.additional_secret_outputs),
        parent=record.parent,
    )


def _policy_config(result: StackResult) -> dict[str, Any]:
    return {"production": result.config.get("fastapi-on-aws:production") == "true"}


def _provider(result: StackResult) -> PolicyProviderResource:
    props = {k.partition(":")[2]: v for k, v in result.config.items() if k.startswith("aws:")}
    urn = f"urn:pulumi:{result.stack}::fastapi-on-aws::pulumi:providers:aws::default"
    return PolicyProviderResource("pulumi:providers:aws", props, urn, "default")


def _stack_args(result: StackResult) -> StackValidationArgs:
    """Every resource as the engine hands it to a stack policy: outputs and dependencies."""
    by_urn: dict[str, PolicyResource] = {}
    for record in result.resources:
        props: Mapping[str, Any] = unknown_checking_proxy(copy.deepcopy(record.outputs))
        by_urn[record.urn] = PolicyResource(
            record.type, props, record.urn, record.name, _options(record), None, None, [], {}
        )
    for record in result.resources:
        resource = by_urn[record.urn]
        resource.parent = by_urn.get(record.parent or "")
        resource.dependencies.extend(by_urn[urn] for urn in record.depends_on if urn in by_urn)
        for key, urns in record.property_dependencies.items():
            resource.property_dependencies[key] = [by_urn[urn] for urn in urns if urn in by_urn]
    return StackValidationArgs(list(by_urn.values()), _policy_config(result))


def _resource_args(result: StackResult, record: ResourceRecord) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        record.type,
        unknown_checking_proxy(copy.deepcopy(dict(record.inputs))),
        record.urn,
        record.name,
        _options(record),
        _provider(result) if record.type.startswith("aws:") else None,
        _policy_config(result),
    )


def violations(result: StackResult) -> list[str]:
    """Every policy of ``infra.policies.POLICIES`` over the whole stack."""
    found: list[str] = []

    def run(policy: Any, args: Any) -> None:
        def report(message: str, urn: str | None = None) -> None:
            found.append(f"[{policy.name}] {message}")

        assert policy.validate(args, report) is None

    stack = _stack_args(result)
    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):
            run(policy, stack)
        elif isinstance(policy, ResourceValidationPolicy):
            for record in result.resources:
                run(policy, _resource_args(result, record))
    return found


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
