"""Database: RDS PostgreSQL in the private subnets, TLS forced, encrypted, backed up.

Telemetry (INVARIANT B19): slow statements, DDL and lock waits are logged by
the parameter group (and exported to CloudWatch Logs with retention in
prod); Performance Insights and Enhanced Monitoring follow their config keys.
IAM database authentication is enabled (INVARIANT B20) next to the password,
which the service still uses (docs/policies.md says why).

Restore (docs/runbook.md, "Restore"): with a restore source the component adds
a second instance, ``<name>-restored-instance``, built by the same step as the
primary (same groups, encryption, protection, telemetry), so every invariant
holds for it too. ``address``, ``instance_arn`` and ``identifier`` are the
*serving* instance's: compute and the alarms follow ``serve_restored``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import physical_name, type_token
from infra.documents import iam
from infra.documents.restore import RestoreSource

DATABASE_NAME = "app"
DATABASE_USER = "app"
DATABASE_PORT = 5432
# PostgreSQL logs RDS can publish to CloudWatch Logs.
LOG_EXPORTS: tuple[str, ...] = ("postgresql", "upgrade")
# Performance Insights' free tier keeps 7 days.
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
MONITORING_PRINCIPAL = "monitoring.rds.amazonaws.com"
MONITORING_MANAGED_POLICY_ARN = (
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
)
# The IAM path of the monitoring role: the deploy role may pass roles on this
# path only to RDS (bootstrap/documents.py).
MONITORING_ROLE_PATH = "/fastapi-on-aws/rds-monitoring/"
# Statement logging beyond slow queries: schema changes only (``mod``/``all``
# would log every write's parameters, personal data included).
LOG_STATEMENT = "ddl"


@dataclass(frozen=True)
class DatabaseArgs:
    """Inputs of the Database component."""

    stack: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    password: pulumi.Input[str]
    engine_version: str
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    skip_final_snapshot: bool
    log_exports: bool
    log_retention_days: int
    protect: bool
    performance_insights: bool = False
    monitoring_interval_seconds: int = 0
    """Enhanced Monitoring interval; 0 turns it (and its role) off."""
    log_min_duration_ms: int = 1000
    """``log_min_duration_statement``: statements slower than this are logged (-1: off)."""
    restore: RestoreSource | None = None
    """Create the restored instance from this (``dbRestoreSource``); None: no restore."""
    serve_restored: bool = False
    """The service uses the restored instance (``dbServing: restored``)."""
    primary_retired: bool = False
    """The primary instance is deleted (``dbPrimaryRetired``)."""


@dataclass(frozen=True)
class _Placement:
    """What every instance of the component shares: network, groups, monitoring role."""

    subnet_group_name: pulumi.Input[str]
    parameter_group_name: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    monitoring_role_arn: pulumi.Input[str] | None
    monitoring_ready: list[pulumi.Resource]


def restore_arguments(source: RestoreSource, primary_identifier: str) -> dict[str, Any]:
    """The ``aws.rds.Instance`` arguments that make it a restore of ``source``.

    A snapshot restore is RestoreDBInstanceFromDBSnapshot; a time restore is
    RestoreDBInstanceToPointInTime from the primary's automated backups. The
    provider applies what those calls do not take (the password, backups,
    monitoring) with a ModifyDBInstance right after.
    """
    if source.snapshot is not None:
        return {"snapshot_identifier": source.snapshot}
    return {
        "restore_to_point_in_time": aws.rds.InstanceRestoreToPointInTimeArgs(
            source_db_instance_identifier=primary_identifier,
            restore_time=source.restore_time,
            use_latest_restorable_time=True if source.latest else None,
        )
    }


def parameters(log_min_duration_ms: int) -> list[dict[str, str]]:
    """The PostgreSQL parameters of the stack's group: TLS forced, slow queries logged.

    All are dynamic, so ``immediate`` applies them without a reboot.
    """
    return [
        {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"},
        {
            "name": "log_min_duration_statement",
            "value": str(log_min_duration_ms),
            "apply_method": "immediate",
        },
        {"name": "log_statement", "value": LOG_STATEMENT, "apply_method": "immediate"},
        {"name": "log_lock_waits", "value": "1", "apply_method": "immediate"},
    ]


class Database(pulumi.ComponentResource):
    """RDS PostgreSQL, its subnet group, parameter group and (rule-less) security group."""

    security_group_id: pulumi.Output[str]
    address: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    port: int
    database_name: str
    username: str
    instance_arn: pulumi.Output[str]
    identifier: str
    """The serving instance's identifier (the alarms' dimension)."""
    primary_identifier: str
    restored_identifier: str
    has_restore: bool
    """Whether a restored instance exists (the RDS Proxy target may move to it)."""

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the database layer; compute adds the ingress rules it needs."""
        super().__init__(type_token("database", "Database"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.port = DATABASE_PORT
        self.database_name = DATABASE_NAME
        self.username = DATABASE_USER

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description="Private subnets of the fastapi-on-aws database",
            subnet_ids=list(args.subnet_ids),
            opts=child,
        )
        parameter_group = self._parameter_group(name, args, child)
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="PostgreSQL: ingress rules are added by the compute layer",
            opts=child,
        )
        self.security_group_id = security_group.id

        # The identifiers are known in advance: the log groups are named after them.
        self.primary_identifier = physical_name(args.stack, "postgres")
        self.restored_identifier = physical_name(args.stack, "postgres-restored")
        monitoring_role_arn, monitoring_ready = self._monitoring_role(name, args, child)
        placement = _Placement(
            subnet_group_name=subnet_group.name,
            parameter_group_name=parameter_group.name,
            security_group_id=security_group.id,
            monitoring_role_arn=monitoring_role_arn,
            monitoring_ready=monitoring_ready,
        )
        # The primary's log groups outlive its retirement: they hold its last
        # logs, which expire with the retention.
        primary_logs = self._log_groups(f"{name}-log", self.primary_identifier, args)
        primary = None
        if not args.primary_retired:
            primary = self._instance(
                f"{name}-instance", self.primary_identifier, args, placement, primary_logs
            )
        restored = self._restored_instance(name, args, placement, primary)
        serving = restored if args.serve_restored else primary
        if serving is None:
            raise ValueError("no database instance to serve: see docs/runbook.md, Restore")
        self.has_restore = restored is not None
        self.identifier = (
            self.restored_identifier if args.serve_restored else self.primary_identifier
        )
        self.address = serving.address
        self.endpoint = serving.endpoint
        self.instance_arn = serving.arn
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "securityGroupId": self.security_group_id,
            }
        )

    def _restored_instance(
        self,
        name: str,
        args: DatabaseArgs,
        placement: _Placement,
        primary: aws.rds.Instance | None,
    ) -> aws.rds.Instance | None:
        """The instance restored from ``args.restore`` (none without one), beside the primary.

        Its logical and physical names are fixed, never derived from the source
        (INVARIANT C2). The source is read when it is created only: changing
        ``dbRestoreSource`` afterwards must not replace (empty) a database that
        may be serving, so a new restore first removes this one (the runbook).
        """
        if args.restore is None:
            return None
        logs = self._log_groups(f"{name}-restored-log", self.restored_identifier, args)
        # A time restore reads the primary's backups, so it waits for the primary.
        after_primary = [primary] if primary is not None and args.restore.snapshot is None else []
        return self._instance(
            f"{name}-restored-instance",
            self.restored_identifier,
            args,
            placement,
            [*logs, *after_primary],
            restore=restore_arguments(args.restore, self.primary_identifier),
            ignore_changes=["snapshotIdentifier", "restoreToPointInTime"],
        )

    def _parameter_group(
        self, name: str, args: DatabaseArgs, child: pulumi.ResourceOptions
    ) -> aws.rds.ParameterGroup:
        """The engine major's parameter group with :func:`parameters`."""
        major = args.engine_version.split(".")[0]
        return aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            # The description is immutable (a change would replace the group and
            # reboot the instance onto it), so it stays as first deployed.
            description="fastapi-on-aws PostgreSQL: TLS required",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(**parameter)
                for parameter in parameters(args.log_min_duration_ms)
            ],
            opts=child,
        )

    def _log_groups(
        self, prefix: str, identifier: str, args: DatabaseArgs
    ) -> list[aws.cloudwatch.LogGroup]:
        """The exported logs' groups, created before the instance so they keep a retention.

        RDS creates log groups without retention when it first exports; the
        groups are created here first, with retention (INVARIANT B13).
        """
        return [
            aws.cloudwatch.LogGroup(
                f"{prefix}-{log}",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=args.log_retention_days,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for log in (LOG_EXPORTS if args.log_exports else ())
        ]

    def _monitoring_role(
        self, name: str, args: DatabaseArgs, child: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str] | None, list[pulumi.Resource]]:
        """Enhanced Monitoring's role ARN and what the instance must wait for (none if off)."""
        if args.monitoring_interval_seconds <= 0:
            return None, []
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring-role",
            description="RDS Enhanced Monitoring: publish OS metrics to CloudWatch Logs",
            path=MONITORING_ROLE_PATH,
            assume_role_policy=iam.to_json(iam.assume_role_policy(MONITORING_PRINCIPAL)),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-managed",
            role=monitoring_role.name,
            policy_arn=MONITORING_MANAGED_POLICY_ARN,
            opts=child,
        )
        return monitoring_role.arn, [attachment]

    def _instance(
        self,
        logical_name: str,
        identifier: str,
        args: DatabaseArgs,
        placement: _Placement,
        waits_for: Sequence[pulumi.Resource],
        *,
        restore: dict[str, Any] | None = None,
        ignore_changes: list[str] | None = None,
    ) -> aws.rds.Instance:
        """A PostgreSQL instance: private, encrypted, backed up, with its telemetry."""
        opts = pulumi.ResourceOptions(
            parent=self,
            protect=args.protect,
            # The identifier is explicit, so a replacement must free it first
            # (INVARIANT C2); protect and deletion protection guard prod.
            delete_before_replace=True,
            # RDS checks the monitoring role can publish when it is passed.
            depends_on=[*waits_for, *placement.monitoring_ready],
            ignore_changes=ignore_changes,
        )
        return aws.rds.Instance(
            logical_name,
            identifier=identifier,
            engine="postgres",
            engine_version=args.engine_version,
            # Minor versions follow AWS's patches; majors only change on purpose.
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=DATABASE_NAME,
            username=DATABASE_USER,
            # Changing the password is an in-place ModifyDBInstance (INVARIANT C6).
            password=args.password,
            port=DATABASE_PORT,
            db_subnet_group_name=placement.subnet_group_name,
            parameter_group_name=placement.parameter_group_name,
            vpc_security_group_ids=[placement.security_group_id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=args.skip_final_snapshot,
            final_snapshot_identifier=None if args.skip_final_snapshot else f"{identifier}-final",
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS) if args.log_exports else None,
            # Token sign-in is possible for roles granted rds_iam; the app user
            # keeps its password (INVARIANT B20, docs/policies.md).
            iam_database_authentication_enabled=True,
            performance_insights_enabled=args.performance_insights,
            performance_insights_retention_period=(
                PERFORMANCE_INSIGHTS_RETENTION_DAYS if args.performance_insights else None
            ),
            monitoring_interval=args.monitoring_interval_seconds,
            monitoring_role_arn=placement.monitoring_role_arn,
            **(restore or {}),
            opts=opts,
        )
