"""Telemetry guardrails: log retention, Container Insights, ALB and RDS telemetry.

B13 (log retention; prod a year), B15 (prod Container Insights), B18 (ALB
access logs name a bucket; prod logs and deletion protection; the bucket
itself is ``access_logs.py``), B19 (RDS Performance Insights, Enhanced
Monitoring with its role, statement logging) and B20 (IAM database
authentication).
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
    as_list,
    is_production,
    number,
    policy_statements,
    postgres_parameters,
    principals,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.iam import RDS_MONITORING_PRINCIPAL
from infra.policies.resource_types import (
    T_ECS_CLUSTER,
    T_LOAD_BALANCER,
    T_LOG_GROUP,
    T_RDS_INSTANCE,
    T_RDS_PARAMETER_GROUP,
    T_ROLE,
    T_ROLE_ATTACHMENT,
)

PROD_MIN_LOG_RETENTION_DAYS: Final = 365
RDS_MONITORING_MANAGED_POLICY: Final = (
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
)
# Performance Insights' free tier (and the shortest retention RDS offers).
PROD_MIN_PERFORMANCE_INSIGHTS_DAYS: Final = 7
# The slowest statement a prod database may leave unlogged (ms).
PROD_MAX_LOG_MIN_DURATION_MS: Final = 1000
LOGGED_STATEMENT_CLASSES: Final = ("ddl", "mod", "all")


@resource_check(T_LOG_GROUP)
def _log_group(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B13."""
    days = number(props.get("retentionInDays")) or 0
    if days <= 0:
        fail("logs are kept forever (no retention)", "set retention_in_days from logRetentionDays")
    elif is_production(args.get_config()) and days < PROD_MIN_LOG_RETENTION_DAYS:
        fail(
            f"prod logs are kept {days:g} days",
            f"set logRetentionDays: {PROD_MIN_LOG_RETENTION_DAYS} or more",
        )


@resource_check(T_ECS_CLUSTER)
def _cluster(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B15 (P)."""
    if not is_production(args.get_config()):
        return
    settings = {
        str(item.get("name")): str(item.get("value"))
        for item in as_list(props.get("settings"))
        if isinstance(item, Mapping)
    }
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        fail("prod cluster without Container Insights", "set containerInsights: true")


@resource_check(T_LOAD_BALANCER)
def _alb_telemetry(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B18: access logs go to a bucket; prod ALBs log and refuse deletion."""
    logs = props.get("accessLogs") or {}
    enabled = isinstance(logs, Mapping) and logs.get("enabled") is True
    if enabled and not logs.get("bucket"):
        fail("access logs are enabled without a bucket", "set access_logs.bucket to the log bucket")
    if not is_production(args.get_config()):
        return
    if not enabled:
        fail(
            "prod load balancer without access logs (CKV_AWS_91)",
            "set albAccessLogs: true (the stack's access-log bucket)",
        )
    if props.get("enableDeletionProtection") is not True:
        fail(
            "prod load balancer without deletion protection (CKV_AWS_150)",
            "set albDeletionProtection: true",
        )


@resource_check(T_RDS_INSTANCE)
def _rds_telemetry(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B20 (IAM database authentication) and, in prod, B19 (Performance Insights,
    Enhanced Monitoring)."""
    if props.get("iamDatabaseAuthenticationEnabled") is not True:
        fail(
            "IAM database authentication is off (CKV_AWS_161)",
            "set iam_database_authentication_enabled=True",
        )
    interval = number(props.get("monitoringInterval")) or 0
    if interval > 0 and not props.get("monitoringRoleArn"):
        fail("Enhanced Monitoring has no role", "set monitoring_role_arn")
    if not is_production(args.get_config()):
        return
    if props.get("performanceInsightsEnabled") is not True:
        fail(
            "prod database without Performance Insights (CKV_AWS_353)",
            "set dbPerformanceInsights: true",
        )
    elif (
        number(props.get("performanceInsightsRetentionPeriod")) or 0
    ) < PROD_MIN_PERFORMANCE_INSIGHTS_DAYS:
        fail(
            "Performance Insights keeps less than 7 days",
            f"set performance_insights_retention_period={PROD_MIN_PERFORMANCE_INSIGHTS_DAYS}",
        )
    if interval <= 0:
        fail(
            "prod database without Enhanced Monitoring (CKV_AWS_118)",
            "set dbMonitoringIntervalSeconds: 60",
        )


@resource_check(T_RDS_PARAMETER_GROUP)
def _rds_logging(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B19: PostgreSQL logs slow statements, DDL and lock waits (CKV2_AWS_30)."""
    values = postgres_parameters(props)
    if values is None:
        return
    duration = number(values.get("log_min_duration_statement"))
    if duration is None or duration < 0:
        fail(
            "slow statements are not logged (log_min_duration_statement unset or -1)",
            "set dbLogMinDurationMs (log_min_duration_statement) to 0 or more",
        )
    elif is_production(args.get_config()) and duration > PROD_MAX_LOG_MIN_DURATION_MS:
        fail(
            f"prod logs only statements slower than {duration:g} ms",
            f"set dbLogMinDurationMs: {PROD_MAX_LOG_MIN_DURATION_MS} or less",
        )
    if values.get("log_statement") not in LOGGED_STATEMENT_CLASSES:
        fail(
            f"log_statement is {values.get('log_statement')!r}",
            'set log_statement = "ddl" (schema changes are logged)',
        )
    if values.get("log_lock_waits") != "1":
        fail("lock waits are not logged", 'set log_lock_waits = "1"')


@stack_check
def _rds_monitoring_role(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B19: Enhanced Monitoring's role trusts exactly RDS monitoring, with AWS's policy."""
    for instance in view.of_type(T_RDS_INSTANCE):
        if (number(instance.props.get("monitoringInterval")) or 0) <= 0:
            continue
        roles = view.refs(instance, "monitoringRoleArn", T_ROLE)
        if not roles:
            fail(
                instance,
                "Enhanced Monitoring uses a role this stack does not manage",
                "create the monitoring role in the Database component",
            )
        for role in roles:
            trusted = {
                value
                for statement in policy_statements(role.props.get("assumeRolePolicy"))
                for kind, value in principals(statement.get("Principal"))
            }
            if trusted != {RDS_MONITORING_PRINCIPAL}:
                fail(
                    role,
                    f"the monitoring role trusts {sorted(trusted)}",
                    f"trust {RDS_MONITORING_PRINCIPAL} only",
                )
            attached = {
                str(a.props.get("policyArn"))
                for a in view.referring(role, "role", T_ROLE_ATTACHMENT)
            }
            if RDS_MONITORING_MANAGED_POLICY not in attached:
                fail(
                    role,
                    "the monitoring role lacks AmazonRDSEnhancedMonitoringRole",
                    f"attach {RDS_MONITORING_MANAGED_POLICY}",
                )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "log-group-retention",
        "Log groups have retention (prod: a year or more).",
        "B13",
        _log_group,
    ),
    resource_policy(
        "ecs-container-insights", "Prod ECS clusters have Container Insights.", "B15", _cluster
    ),
    resource_policy(
        "alb-telemetry",
        "ALB access logs name a bucket; prod: access logs on and deletion protection.",
        "B18",
        _alb_telemetry,
    ),
    resource_policy(
        "rds-telemetry",
        "RDS: IAM database authentication; prod: Performance Insights, Enhanced Monitoring.",
        "B19 B20",
        _rds_telemetry,
    ),
    resource_policy(
        "rds-parameter-group-logging",
        "PostgreSQL logs slow statements, DDL and lock waits (prod: 1 s or faster).",
        "B19",
        _rds_logging,
    ),
    stack_policy(
        "rds-monitoring-role",
        "Enhanced Monitoring's role trusts monitoring.rds only, with AWS's managed policy.",
        "B19",
        _rds_monitoring_role,
    ),
)
