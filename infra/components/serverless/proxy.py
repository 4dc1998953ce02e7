"""The RDS Proxy between the function and PostgreSQL: TLS required, Secrets Manager auth (A13).

The proxy signs in with a Secrets Manager copy of the generated database
password (the source of truth stays in SSM), through a role that may read only
that secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra.components import physical_name
from infra.components.serverless.scope import Scope
from infra.components.serverless.settings import ServerlessServiceArgs
from infra.documents import iam
from infra.documents import serverless as ld

DATABASE_USER: Final = "app"
# Connection pool of the proxy: leave a tenth of max_connections to operators,
# and give up borrowing a connection well before the function would time out.
PROXY_MAX_CONNECTIONS_PERCENT: Final = 90
PROXY_MAX_IDLE_CONNECTIONS_PERCENT: Final = 50
PROXY_BORROW_TIMEOUT_SECONDS: Final = 10
PROXY_IDLE_CLIENT_TIMEOUT_SECONDS: Final = 1800


@dataclass(frozen=True)
class DatabaseProxy:
    """The proxy (its endpoint goes into the function's environment) and its database target."""

    proxy: aws.rds.Proxy
    target: aws.rds.ProxyTarget
    """Registered once the instance is: the migration waits for it."""


@dataclass(frozen=True)
class _ProxyAccess:
    """The credentials secret (and its value) and the role the proxy reads it with."""

    secret: aws.secretsmanager.Secret
    secret_value: aws.secretsmanager.SecretVersion
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy


def create_proxy(
    scope: Scope, args: ServerlessServiceArgs, proxy_sg: aws.ec2.SecurityGroup
) -> DatabaseProxy:
    """The proxy in the private subnets, its connection pool, and the database as its target."""
    access = _create_proxy_access(scope, args)
    proxy = aws.rds.Proxy(
        f"{scope.name}-proxy",
        # RDS requires a name; it is fixed per stack, so a replacement
        # must free it first (INVARIANT C2).
        name=physical_name(args.settings.stack, "proxy", max_length=60),
        engine_family="POSTGRESQL",
        require_tls=True,
        debug_logging=False,
        idle_client_timeout=PROXY_IDLE_CLIENT_TIMEOUT_SECONDS,
        role_arn=access.role.arn,
        vpc_subnet_ids=args.private_subnet_ids,
        vpc_security_group_ids=[proxy_sg.id],
        auths=[
            aws.rds.ProxyAuthArgs(
                auth_scheme="SECRETS",
                secret_arn=access.secret.arn,
                iam_auth="DISABLED",
                client_password_auth_type="POSTGRES_SCRAM_SHA_256",  # noqa: S106 (a scheme)
                description="The app user, from Secrets Manager",
            )
        ],
        tags=scope.tags,
        opts=scope.opts(
            delete_before_replace=True,
            depends_on=[access.role_policy, access.secret_value],
        ),
    )
    target_group = aws.rds.ProxyDefaultTargetGroup(
        f"{scope.name}-proxy-pool",
        db_proxy_name=proxy.name,
        connection_pool_config=aws.rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs(
            max_connections_percent=PROXY_MAX_CONNECTIONS_PERCENT,
            max_idle_connections_percent=PROXY_MAX_IDLE_CONNECTIONS_PERCENT,
            connection_borrow_timeout=PROXY_BORROW_TIMEOUT_SECONDS,
        ),
        opts=scope.opts(),
    )
    target = aws.rds.ProxyTarget(
        f"{scope.name}-proxy-target",
        db_proxy_name=proxy.name,
        target_group_name=target_group.name,
        # Derived from the instance's ARN so the target waits for the instance.
        db_instance_identifier=pulumi.Output.from_input(args.database_instance_arn).apply(
            ld.db_instance_identifier
        ),
        # A proxy's target group holds one RDS instance: moving the target to a
        # restored instance must deregister the old one before registering it.
        opts=scope.opts(delete_before_replace=True if args.database_target_moves else None),
    )
    return DatabaseProxy(proxy=proxy, target=target)


def _create_proxy_access(scope: Scope, args: ServerlessServiceArgs) -> _ProxyAccess:
    """The credentials secret holding the password, and the role allowed to read it."""
    secret = aws.secretsmanager.Secret(
        f"{scope.name}-proxy-credentials",
        description="PostgreSQL credentials the RDS Proxy signs in with (copy of the SSM one)",
        # The source of truth is the generated password in SSM; a deleted
        # copy needs no recovery window in dev.
        recovery_window_in_days=7 if args.settings.production else 0,
        tags=scope.tags,
        opts=scope.opts(),
    )
    password: pulumi.Output[str] = pulumi.Output.from_input(args.database_password)
    credentials_json: pulumi.Output[str] = pulumi.Output.secret(
        password.apply(lambda value: ld.proxy_credentials(DATABASE_USER, value))
    )
    secret_value = aws.secretsmanager.SecretVersion(
        f"{scope.name}-proxy-credentials-value",
        secret_id=secret.id,
        secret_string=credentials_json,
        opts=scope.opts(),
    )
    role = aws.iam.Role(
        f"{scope.name}-proxy-role",
        description="RDS Proxy: read its PostgreSQL credentials secret",
        assume_role_policy=iam.to_json(ld.proxy_trust_policy()),
        tags=scope.tags,
        opts=scope.opts(),
    )
    role_policy = aws.iam.RolePolicy(
        f"{scope.name}-proxy-secret",
        role=role.id,
        policy=secret.arn.apply(lambda arn: iam.to_json(ld.proxy_secret_policy(arn))),
        opts=scope.opts(),
    )
    return _ProxyAccess(
        secret=secret, secret_value=secret_value, role=role, role_policy=role_policy
    )
