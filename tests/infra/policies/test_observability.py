"""Telemetry policies (infra/policies/observability.py): logs, insights, ALB and RDS.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from infra.policies import observability
from infra.policies.resource_types import (
    T_ECS_CLUSTER,
    T_LOAD_BALANCER,
    T_LOG_GROUP,
    T_RDS_INSTANCE,
    T_RDS_PARAMETER_GROUP,
    T_ROLE,
    T_ROLE_ATTACHMENT,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DELETE,
    DF,
    DL,
    PF,
    PL,
    Bad,
    Props,
    assert_reported,
    both,
    drop_dependency,
    on_props,
    set_path,
)

MONITORING_ROLE = "database-monitoring-role"


def _parameter(name: str, value: object) -> Callable[[Props], None]:
    """Set (or, with ``DELETE``, drop) one parameter of a parameter group's inputs."""

    def mutate(props: Props) -> None:
        kept = [item for item in props["parameters"] if item["name"] != name]
        if value is not DELETE:
            kept.append({"name": name, "value": value, "applyMethod": "immediate"})
        props["parameters"] = kept

    return mutate


BAD: tuple[Bad, ...] = (
    Bad(
        "log-group-retention",
        DF,
        T_LOG_GROUP,
        "app-logs",
        set_path("retentionInDays", DELETE),
        ("retention_in_days",),
    ),
    Bad(
        "log-group-retention",
        PF,
        T_LOG_GROUP,
        "app-logs",
        set_path("retentionInDays", 30),
        ("logRetentionDays: 365",),
    ),
    Bad(
        "ecs-container-insights",
        PF,
        T_ECS_CLUSTER,
        "cluster",
        set_path("settings", []),
        ("containerInsights",),
    ),
    Bad(
        "alb-telemetry",
        PF,
        T_LOAD_BALANCER,
        "alb",
        set_path("enableDeletionProtection", False),
        ("CKV_AWS_150",),
    ),
    Bad(
        "alb-telemetry", PF, T_LOAD_BALANCER, "alb", set_path("accessLogs", DELETE), ("CKV_AWS_91",)
    ),
    Bad(
        "alb-telemetry",
        DF,
        T_LOAD_BALANCER,
        "alb",
        set_path("accessLogs", {"enabled": True}),
        ("a bucket",),
    ),
    Bad(
        "rds-telemetry",
        DL,
        T_RDS_INSTANCE,
        "instance",
        set_path("iamDatabaseAuthenticationEnabled", False),
        ("CKV_AWS_161",),
    ),
    Bad(
        "rds-telemetry",
        PF,
        T_RDS_INSTANCE,
        "instance",
        set_path("performanceInsightsEnabled", False),
        ("CKV_AWS_353",),
    ),
    Bad(
        "rds-telemetry",
        PF,
        T_RDS_INSTANCE,
        "instance",
        set_path("performanceInsightsRetentionPeriod", 0),
        ("less than 7 days",),
    ),
    Bad(
        "rds-telemetry",
        PL,
        T_RDS_INSTANCE,
        "instance",
        set_path("monitoringInterval", 0),
        ("CKV_AWS_118",),
    ),
    Bad(
        "rds-telemetry",
        PF,
        T_RDS_INSTANCE,
        "instance",
        set_path("monitoringRoleArn", DELETE),
        ("monitoring_role_arn",),
    ),
    Bad(
        "rds-parameter-group-logging",
        DF,
        T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_min_duration_statement", "-1"),
        ("slow statements",),
    ),
    Bad(
        "rds-parameter-group-logging",
        PF,
        T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_min_duration_statement", "5000"),
        ("1000 or less",),
    ),
    Bad(
        "rds-parameter-group-logging",
        DL,
        T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_statement", "none"),
        ("log_statement",),
    ),
    Bad(
        "rds-parameter-group-logging",
        DF,
        T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_lock_waits", DELETE),
        ("lock waits",),
    ),
    Bad(
        "rds-monitoring-role",
        PF,
        T_ROLE,
        "monitoring-role",
        on_props(
            lambda p: p.update(
                assumeRolePolicy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "rds.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                )
            )
        ),
        ("trusts",),
    ),
    Bad(
        "rds-monitoring-role",
        PL,
        T_ROLE_ATTACHMENT,
        "monitoring-managed",
        on_props(lambda p: p.update(policyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")),
        ("AmazonRDSEnhancedMonitoringRole",),
        reports=MONITORING_ROLE,
    ),
    Bad(
        "rds-monitoring-role",
        PF,
        T_RDS_INSTANCE,
        "instance",
        both(
            drop_dependency(T_ROLE, "monitoringRoleArn"),
            on_props(lambda p: p.update(monitoringRoleArn="arn:aws:iam::123456789012:role/other")),
        ),
        ("does not manage",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of observability.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in observability.SPECS}
