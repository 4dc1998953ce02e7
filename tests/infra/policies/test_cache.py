"""Cache policies (infra/policies/cache.py): the Redis replication group.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest

from infra.policies import cache
from infra.policies.resource_types import (
    T_CACHE_SUBNET_GROUP,
    T_REDIS,
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
    both,
    drop_dependency,
    on_props,
    set_path,
)

BAD: tuple[Bad, ...] = (
    Bad(
        "redis-replication-group",
        DF,
        T_REDIS,
        "redis",
        set_path("transitEncryptionEnabled", False),
        ("transit_encryption_enabled",),
    ),
    Bad(
        "redis-replication-group",
        DL,
        T_REDIS,
        "redis",
        set_path("atRestEncryptionEnabled", False),
        ("at_rest_encryption_enabled",),
    ),
    Bad(
        "redis-replication-group",
        DF,
        T_REDIS,
        "redis",
        set_path("authToken", DELETE),
        ("auth_token",),
    ),
    Bad(
        "redis-replication-group",
        DF,
        T_REDIS,
        "redis",
        set_path("authToken", "short"),
        ("16 to 128",),
    ),
    Bad(
        "redis-replication-group",
        DF,
        T_REDIS,
        "redis",
        set_path("authToken", "a" * 20 + "@/"),
        ("characters",),
    ),
    Bad(
        "redis-replication-group",
        DF,
        T_REDIS,
        "redis",
        set_path("subnetGroupName", DELETE),
        ("subnet_group_name",),
    ),
    Bad(
        "redis-replication-group",
        PF,
        T_REDIS,
        "redis",
        set_path("automaticFailoverEnabled", False),
        ("automatic_failover_enabled",),
    ),
    Bad(
        "redis-replication-group",
        PL,
        T_REDIS,
        "redis",
        set_path("numCacheClusters", 1),
        ("cacheNodeCount",),
    ),
    Bad(
        "redis-replication-group",
        PF,
        T_REDIS,
        "redis",
        set_path("multiAzEnabled", False),
        ("multi_az_enabled",),
    ),
    Bad(
        "redis-replication-group",
        PF,
        T_REDIS,
        "redis",
        set_path("snapshotRetentionLimit", 0),
        ("cacheSnapshotRetentionDays",),
    ),
    Bad(
        "redis-replication-group",
        PL,
        T_REDIS,
        "redis",
        lambda p: None,
        ("protectData",),
        protect=False,
    ),
    Bad(
        "redis-own-subnet-group",
        PF,
        T_REDIS,
        "redis",
        both(
            drop_dependency(T_CACHE_SUBNET_GROUP),
            on_props(set_path("subnetGroupName", "default")),
        ),
        ("aws.elasticache.SubnetGroup",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of cache.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in cache.SPECS}
