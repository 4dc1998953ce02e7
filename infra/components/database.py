"""Database: RDS PostgreSQL in the private subnets, TLS forced, encrypted, backed up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import physical_name, type_token

DATABASE_NAME = "app"
DATABASE_USER = "app"
DATABASE_PORT = 5432
# PostgreSQL logs RDS can publish to CloudWatch Logs.
LOG_EXPORTS: tuple[str, ...] = ("postgresql", "upgrade")


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
        major = args.engine_version.split(".")[0]
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            description="fastapi-on-aws PostgreSQL: TLS required",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name="rds.force_ssl", value="1", apply_method="immediate"
                )
            ],
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="PostgreSQL: ingress rules are added by the compute layer",
            opts=child,
        )
        self.security_group_id = security_group.id

        # RDS creates log groups without retention when it first exports; the
        # groups are created here first, with retention (INVARIANT B13), which
        # needs the instance identifier to be known in advance.
        self.identifier = physical_name(args.stack, "postgres")
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-log-{log}",
                name=f"/aws/rds/instance/{self.identifier}/{log}",
                retention_in_days=args.log_retention_days,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for log in (LOG_EXPORTS if args.log_exports else ())
        ]

        instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=self.identifier,
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
            db_subnet_group_name=subnet_group.name,
            parameter_group_name=parameter_group.name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=args.skip_final_snapshot,
            final_snapshot_identifier=(
                None if args.skip_final_snapshot else f"{self.identifier}-final"
            ),
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS) if args.log_exports else None,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # The identifier is explicit, so a replacement must free it first
                # (INVARIANT C2); protect and deletion protection guard prod.
                delete_before_replace=True,
                depends_on=list(log_groups),
            ),
        )
        self.address = instance.address
        self.endpoint = instance.endpoint
        self.instance_arn = instance.arn
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "securityGroupId": self.security_group_id,
            }
        )
