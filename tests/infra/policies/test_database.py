"""Database policies (infra/policies/database.py): RDS, its TLS parameters, the proxy.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource, ResourceValidationArgs

from infra.policies import database
from infra.policies.resource_types import (
    T_RDS_INSTANCE,
    T_RDS_PARAMETER_GROUP,
    T_RDS_PROXY,
    T_SUBNET,
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
    resource_args,
    run_policy,
    set_path,
    spec_named,
)


def _keep_one_subnet(resource: PolicyResource, key: str) -> None:
    """Leave a resource with one of its subnets (one AZ)."""
    deps = resource.property_dependencies[key]
    subnets = [d for d in deps if d.resource_type == T_SUBNET]
    deps[:] = [d for d in deps if d.resource_type != T_SUBNET] + subnets[:1]


BAD: tuple[Bad, ...] = (
    Bad("rds-proxy", PL, T_RDS_PROXY, "proxy", set_path("requireTls", False), ("require_tls",)),
    Bad(
        "rds-proxy",
        DL,
        T_RDS_PROXY,
        "proxy",
        set_path("auths.0", {"authScheme": "SECRETS", "iamAuth": "DISABLED"}),
        ("secret_arn",),
    ),
    Bad(
        "rds-instance",
        DF,
        T_RDS_INSTANCE,
        "instance",
        set_path("storageEncrypted", False),
        ("storage_encrypted",),
    ),
    Bad(
        "rds-instance",
        DL,
        T_RDS_INSTANCE,
        "instance",
        set_path("publiclyAccessible", True),
        ("publicly_accessible",),
    ),
    Bad(
        "rds-instance",
        DF,
        T_RDS_INSTANCE,
        "instance",
        set_path("dbName", "my-app"),
        ("alphanumeric",),
    ),
    Bad(
        "rds-instance",
        DF,
        T_RDS_INSTANCE,
        "instance",
        set_path("engineVersion", "9.6"),
        ("PostgreSQL major",),
    ),
    Bad(
        "rds-instance",
        PF,
        T_RDS_INSTANCE,
        "instance",
        set_path("finalSnapshotIdentifier", DELETE),
        ("final_snapshot_identifier",),
    ),
    Bad(
        "rds-instance",
        DF,
        T_RDS_INSTANCE,
        "instance",
        set_path("password", "pass word/with@bad"),
        ("characters",),
    ),
    Bad(
        "rds-instance",
        DF,
        T_RDS_INSTANCE,
        "instance",
        set_path("autoMinorVersionUpgrade", False),
        ("auto_minor_version_upgrade",),
    ),
    Bad(
        "rds-instance",
        PF,
        T_RDS_INSTANCE,
        "instance",
        set_path("backupRetentionPeriod", 3),
        ("at least 7",),
    ),
    Bad(
        "rds-instance",
        PL,
        T_RDS_INSTANCE,
        "instance",
        set_path("deletionProtection", False),
        ("dbDeletionProtection",),
    ),
    Bad("rds-instance", PF, T_RDS_INSTANCE, "instance", set_path("multiAz", False), ("dbMultiAz",)),
    Bad(
        "rds-instance",
        PF,
        T_RDS_INSTANCE,
        "instance",
        set_path("skipFinalSnapshot", True),
        ("dbSkipFinalSnapshot",),
    ),
    Bad(
        "rds-instance",
        PF,
        T_RDS_INSTANCE,
        "instance",
        lambda p: None,
        ("protectData",),
        protect=False,
    ),
    Bad(
        "rds-parameter-group-tls",
        DF,
        T_RDS_PARAMETER_GROUP,
        "params",
        set_path("parameters", []),
        ("rds.force_ssl",),
    ),
    Bad(
        "rds-uses-tls-parameter-group",
        DF,
        T_RDS_INSTANCE,
        "instance",
        both(
            drop_dependency(T_RDS_PARAMETER_GROUP),
            on_props(set_path("parameterGroupName", "default.postgres16")),
        ),
        ("rds.force_ssl=1",),
    ),
    Bad(
        "proxy-multi-az",
        PL,
        T_RDS_PROXY,
        "proxy",
        lambda r: _keep_one_subnet(r, "vpcSubnetIds"),
        ("1 availability zone",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of database.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in database.SPECS}


def test_prod_only_rules_follow_the_production_flag(build_stack: BuildStack) -> None:
    """C3: the dev database's settings pass in dev and fail once production is set."""
    result = build_stack("dev")
    record = result.one(T_RDS_INSTANCE, "instance")
    policy = spec_named("rds-instance")
    args = resource_args(result, record)
    assert run_policy(policy, args) == []
    prod_args = ResourceValidationArgs(
        args.resource_type, args.props, args.urn, args.name, args.opts, args.provider,
        {"production": True},
    )  # fmt: skip
    messages = run_policy(policy, prod_args)
    assert any("dbMultiAz" in m for m in messages)
    assert any("dbDeletionProtection" in m for m in messages)
