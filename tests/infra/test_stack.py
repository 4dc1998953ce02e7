"""Stack-wide rules: log retention (B13), names (A14, C2), the component tree."""

from __future__ import annotations

import pytest

from infra.config import LOG_RETENTION_DAYS
from tests.infra.conftest import BuildStack
from tests.infra.harness import StackResult

SHARED_COMPONENTS = {
    "fastapi-on-aws:network:Network": "network",
    "fastapi-on-aws:registry:Registry": "registry",
    "fastapi-on-aws:secrets:Secrets": "secrets",
    "fastapi-on-aws:database:Database": "database",
    "fastapi-on-aws:cache:Cache": "cache",
}
# Inputs that set a resource's physical name (absent ones are autonamed).
PHYSICAL_NAME_INPUTS = ("name", "identifier", "replicationGroupId", "bucket", "functionName")
# Names that are fixed by AWS rather than chosen (the HTTP API's default stage).
FIXED_NAMES = {("aws:apigatewayv2/stage:Stage", "$default")}
BUCKET = "aws:s3/bucket:Bucket"


def _names_itself(type_: str, key: str) -> bool:
    """Whether ``key`` is the resource's own name: an S3 bucket sub-resource's
    ``bucket`` names the bucket it configures, not itself."""
    return not (key == "bucket" and type_.startswith("aws:s3/") and type_ != BUCKET)


def test_b13_every_log_group_has_retention(variant: StackResult) -> None:
    """B13: every log group has an allowed retention; prod keeps logs >= 365 days."""
    groups = variant.find("aws:cloudwatch/logGroup:LogGroup")
    for group in groups:
        days = group.inputs.get("retentionInDays")
        assert days in LOG_RETENTION_DAYS, group.name
        if variant.stack == "prod":
            assert days >= 365, group.name
    if variant.stack == "prod":
        assert groups  # flow logs and the RDS exports at least


def test_shared_components_use_the_project_type_tokens(variant: StackResult) -> None:
    """Type tokens fastapi-on-aws:<module>:<Type>, direct children of the stack."""
    for token, name in SHARED_COMPONENTS.items():
        component = variant.one(token)
        assert component.name == name
        assert variant.parent_of(component) is None
        assert component.parent is not None
        assert component.parent.endswith("::pulumi:pulumi:Stack::fastapi-on-aws-" + variant.stack)


def test_every_resource_belongs_to_a_component(variant: StackResult) -> None:
    """Children are created with parent=self, so nothing custom hangs off the stack."""
    for record in variant.custom_resources:
        assert variant.parent_of(record) is not None, record.name


def test_a14_load_balancer_names_fit_32_characters(variant: StackResult) -> None:
    """A14: autonamed (logical name + '-' + 7 chars) or explicit LB/TG names fit 32 characters."""
    for token in ("aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup"):
        for record in variant.find(token):
            explicit = record.inputs.get("name")
            length = len(explicit) if explicit else len(record.name) + 8
            assert length <= 32, record.name


def test_c2_explicit_physical_names_delete_before_replace(variant: StackResult) -> None:
    """C2: a resource given an explicit physical name must be deleted before it is replaced."""
    for record in variant.custom_resources:
        if not record.type.startswith("aws:"):
            continue
        for key in PHYSICAL_NAME_INPUTS:
            value = record.inputs.get(key)
            if not _names_itself(record.type, key):
                continue
            if value and (record.type, value) not in FIXED_NAMES:
                assert record.delete_before_replace, f"{record.name}: explicit {key}={value!r}"


@pytest.mark.parametrize(
    "overrides",
    [
        {"vpcCidr": "10.99.0.0/16"},
        {"dbInstanceClass": "db.t4g.large", "cacheNodeType": "cache.t4g.medium"},
        {"cpuArchitecture": "arm64", "logRetentionDays": 30, "dbEngineVersion": "15"},
        {"taskCpu": 1024, "taskMemory": 2048, "lambdaMemoryMb": 2048},
    ],
    ids=["cidr", "sizes", "arch-logs-engine", "compute-sizes"],
)
def test_c2_logical_names_do_not_derive_from_config(
    build_stack: BuildStack, overrides: dict[str, object]
) -> None:
    """C2: changing config values keeps every URN (so nothing is replaced by renaming)."""
    for compute in ("fargate", "lambda"):
        base = {r.urn for r in build_stack("dev", compute).resources}
        changed = {r.urn for r in build_stack("dev", compute, **overrides).resources}
        assert changed == base
