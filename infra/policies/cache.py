"""Cache guardrails: the Redis replication group and its subnet group.

A8 (an AUTH token ElastiCache accepts), B10 (encrypted at rest and in transit,
its own subnet group) and C4 (prod: failover, Multi-AZ, 2+ nodes, snapshots,
protected).
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
    is_production,
    number,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_CACHE_SUBNET_GROUP,
    T_REDIS,
)
from infra.policies.secrets import password_problem


@resource_check(T_REDIS)
def _redis(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """A8 (AUTH token), B10 and C4."""
    if props.get("atRestEncryptionEnabled") is not True:
        fail("not encrypted at rest", "set at_rest_encryption_enabled=True")
    if props.get("transitEncryptionEnabled") is not True:
        fail("not encrypted in transit (AUTH requires it)", "set transit_encryption_enabled=True")
    token = props.get("authToken")
    if not token:
        fail("no AUTH token", "set auth_token from the generated Redis password")
    elif isinstance(token, str):
        if not 16 <= len(token) <= 128:
            fail(f"the AUTH token is {len(token)} characters", "generate 16 to 128 characters")
        problem = password_problem(token)
        if problem:
            fail(
                f"the AUTH token {problem}",
                "limit override_special to characters ElastiCache accepts",
            )
    if not props.get("subnetGroupName"):
        fail(
            "no subnet group (the default VPC's would be used)",
            "set subnet_group_name to the cache's own subnet group",
        )
    if is_production(args.get_config()):
        if props.get("automaticFailoverEnabled") is not True:
            fail(
                "prod cache without automatic failover",
                "set automatic_failover_enabled=True (cacheNodeCount >= 2)",
            )
        if props.get("multiAzEnabled") is not True:
            fail("prod cache is single-AZ", "set multi_az_enabled=True")
        if (number(props.get("numCacheClusters")) or 0) < 2:
            fail("prod cache has fewer than 2 nodes", "set cacheNodeCount: 2 or more")
        if (number(props.get("snapshotRetentionLimit")) or 0) < 1:
            fail("prod cache keeps no snapshots", "set cacheSnapshotRetentionDays: 1 or more")
        if not args.opts.protect:
            fail("prod cache is not protected by Pulumi", "set protectData: true (protect=True)")


@stack_check
def _redis_subnet_group(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B10: Redis has its own subnet group."""
    for group in view.of_type(T_REDIS):
        if not view.refs(group, "subnetGroupName", T_CACHE_SUBNET_GROUP):
            fail(
                group,
                "does not use a subnet group of this stack",
                "create an aws.elasticache.SubnetGroup on the private subnets and use it",
            )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "redis-replication-group",
        "Redis: encrypted, AUTH token, own subnets; prod: failover, Multi-AZ, snapshots.",
        "A8 B10 C4",
        _redis,
    ),
    stack_policy(
        "redis-own-subnet-group",
        "Redis uses a subnet group of this stack.",
        "B10",
        _redis_subnet_group,
    ),
)
