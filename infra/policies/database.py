"""Database guardrails: the RDS instance, its TLS parameter group and the RDS Proxy.

A8 (a password RDS accepts), A9 (a valid PostgreSQL instance), A13 (the proxy
requires TLS and authenticates by secret or IAM, across 2+ AZs), B9 (TLS
forced by this stack's parameter group) and C3 (prod: protected, Multi-AZ,
final snapshot). Telemetry (Performance Insights, logging, monitoring) is in
``observability.py``.
"""

from __future__ import annotations

import re
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
    postgres_parameters,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_RDS_INSTANCE,
    T_RDS_PARAMETER_GROUP,
    T_RDS_PROXY,
    T_SUBNET,
)
from infra.policies.secrets import password_problem

PROD_MIN_BACKUP_DAYS: Final = 7
POSTGRES_MAJOR_VERSIONS: Final = ("13", "14", "15", "16", "17")
DB_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")


@resource_check(T_RDS_INSTANCE)
def _rds(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """A8 (password), A9, B9 and C3."""
    if props.get("engine") != "postgres":
        fail(f"engine is {props.get('engine')!r}", 'set engine="postgres"')
    version = str(props.get("engineVersion") or "")
    if version.split(".")[0] not in POSTGRES_MAJOR_VERSIONS:
        fail(
            f"engine version {version!r} is not a supported PostgreSQL major",
            "use one of " + ", ".join(POSTGRES_MAJOR_VERSIONS),
        )
    if not DB_NAME.fullmatch(str(props.get("dbName") or "")):
        fail(
            f"db_name {props.get('dbName')!r} is not alphanumeric starting with a letter",
            'use "app"',
        )
    if not props.get("skipFinalSnapshot") and not props.get("finalSnapshotIdentifier"):
        fail("a final snapshot is required but has no identifier", "set final_snapshot_identifier")
    problem = password_problem(props.get("password"))
    if problem:
        fail(
            f"the master password {problem}",
            "generate it with override_special limited to characters RDS accepts",
        )
    if props.get("publiclyAccessible"):
        fail("publicly accessible", "set publicly_accessible=False")
    if props.get("storageEncrypted") is not True:
        fail("storage is not encrypted", "set storage_encrypted=True")
    if props.get("autoMinorVersionUpgrade") is False:
        fail("auto minor version upgrades are off", "set auto_minor_version_upgrade=True")
    backups = number(props.get("backupRetentionPeriod")) or 0
    production = is_production(args.get_config())
    minimum = PROD_MIN_BACKUP_DAYS if production else 1
    if backups < minimum:
        fail(
            f"backup retention is {backups:g} days",
            f"keep backups at least {minimum} days (dbBackupRetentionDays)",
        )
    if production:
        if props.get("deletionProtection") is not True:
            fail("prod database without deletion protection", "set dbDeletionProtection: true")
        if props.get("skipFinalSnapshot"):
            fail("prod database skips its final snapshot", "set dbSkipFinalSnapshot: false")
        if props.get("multiAz") is not True:
            fail("prod database is single-AZ", "set dbMultiAz: true")
        if not args.opts.protect:
            fail("prod database is not protected by Pulumi", "set protectData: true (protect=True)")


@resource_check(T_RDS_PARAMETER_GROUP)
def _rds_parameters(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """B9: a PostgreSQL parameter group forces TLS."""
    values = postgres_parameters(props)
    if values is None:
        return
    if values.get("rds.force_ssl") != "1":
        fail("rds.force_ssl is not 1", 'add the parameter rds.force_ssl = "1"')


@stack_check
def _rds_tls(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B9: the instance uses a parameter group of this stack that forces TLS."""
    for instance in view.of_type(T_RDS_INSTANCE):
        groups = view.refs(instance, "parameterGroupName", T_RDS_PARAMETER_GROUP)
        forced = [
            group
            for group in groups
            if any(
                isinstance(item, Mapping)
                and item.get("name") == "rds.force_ssl"
                and str(item.get("value")) == "1"
                for item in as_list(group.props.get("parameters"))
            )
        ]
        if not forced:
            fail(
                instance,
                "does not use a parameter group forcing TLS",
                "set parameter_group_name to this stack's group with rds.force_ssl=1",
            )


@resource_check(T_RDS_PROXY)
def _rds_proxy(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A13 (authentication and TLS; the subnets are a stack check)."""
    if props.get("requireTls") is not True:
        fail("TLS is not required", "set require_tls=True")
    auths = [auth for auth in as_list(props.get("auths")) if isinstance(auth, Mapping)]
    good = [
        auth
        for auth in auths
        if (auth.get("authScheme") == "SECRETS" and auth.get("secretArn"))
        or auth.get("iamAuth") == "REQUIRED"
    ]
    if not auths or len(good) != len(auths):
        fail(
            "an auth entry has neither a Secrets Manager secret nor required IAM auth",
            'use auth_scheme="SECRETS" with secret_arn, or iam_auth="REQUIRED"',
        )


@stack_check
def _proxy_multi_az(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A13: the RDS Proxy spans the private subnets of at least 2 AZs (RDS requires it)."""
    public = view.public_subnets()
    for proxy in view.of_type(T_RDS_PROXY):
        private_zones = {
            subnet.props.get("availabilityZone")
            for subnet in view.refs(proxy, "vpcSubnetIds", T_SUBNET)
            if subnet.urn not in public
        } - {None}
        if len(private_zones) < 2:
            fail(
                proxy,
                f"spans the private subnets of {len(private_zones)} availability zone(s)",
                "give it the network's private subnets in at least 2 AZs",
            )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "rds-instance",
        "RDS: valid, private, encrypted, backed up; prod: protected, Multi-AZ, snapshot.",
        "A8 A9 B9 C3",
        _rds,
    ),
    resource_policy(
        "rds-parameter-group-tls",
        "PostgreSQL parameter groups force TLS (rds.force_ssl=1).",
        "B9",
        _rds_parameters,
    ),
    stack_policy(
        "rds-uses-tls-parameter-group",
        "The RDS instance uses this stack's TLS-forcing parameter group.",
        "B9",
        _rds_tls,
    ),
    resource_policy(
        "rds-proxy",
        "RDS Proxy: TLS required, Secrets Manager or IAM authentication.",
        "A13",
        _rds_proxy,
    ),
    stack_policy(
        "proxy-multi-az",
        "The RDS Proxy spans the private subnets of at least 2 AZs.",
        "A13",
        _proxy_multi_az,
    ),
)
