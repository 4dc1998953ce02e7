"""Secrets: generated passwords stored as SSM SecureString parameters.

The component exposes the parameter names and ARNs (what compute needs) and,
on separate attributes, the generated values as secret Outputs. Those values
feed only the database and cache themselves; they are never exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.components import type_token

# RDS master passwords: printable ASCII except '/', '@', '"' and space. The
# service puts the password into a SQLAlchemy URL, so only RFC 3986
# "unreserved" specials are used: nothing ever needs escaping (INVARIANT A8).
DATABASE_PASSWORD_SPECIALS = "-_.~"  # noqa: S105 (a character set)
DATABASE_PASSWORD_LENGTH = 32
# ElastiCache AUTH tokens: 16-128 printable characters whose only allowed
# specials are these (INVARIANT A8).
REDIS_TOKEN_SPECIALS = "!&#$^<>-"  # noqa: S105 (a character set)
REDIS_TOKEN_LENGTH = 64
API_TOKEN_LENGTH = 48

# Service environment variable -> SSM parameter leaf name (docs/contracts.md).
PARAMETER_LEAVES: dict[str, str] = {
    "API_TOKEN": "api-token",
    "DATABASE_PASSWORD": "database-password",
    "REDIS_PASSWORD": "redis-password",
}
# Secrets the operator provides (config keys set with --secret), created only when
# set: a stack without them keeps exactly the parameters above.
OPTIONAL_PARAMETER_LEAVES: dict[str, str] = {
    "SENTRY_DSN": "sentry-dsn",
}


@dataclass(frozen=True)
class SecretsArgs:
    """Inputs of the Secrets component.

    ``revisions`` maps a service variable (``PARAMETER_LEAVES``) to its rotation
    revision; bumping one generates a new value for that secret only.
    """

    ssm_prefix: str
    revisions: Mapping[str, int] = field(default_factory=dict)
    sentry_dsn: str = field(default="", repr=False)
    """``sentryDsn``: stored as the SENTRY_DSN parameter when set, nothing when empty."""


def rotation_keepers(revision: int) -> dict[str, str] | None:
    """``keepers`` of a generated secret at ``revision``.

    Revision 1 (the default) has no keepers, exactly like stacks created before
    rotation was config-driven, so adopting this code replaces nothing; any
    other revision is a keeper, and changing it replaces the value.
    """
    return None if revision == 1 else {"revision": str(revision)}


def config_revision(versions: Mapping[str, int | str]) -> str:
    """``CONFIG_REVISION``: the SSM version of every secret, in a fixed order.

    SSM bumps a parameter's version on every value change, so this string
    changes exactly when a secret compute reads at start-up changes. It goes
    into the task definition and the function environment (never a value),
    which makes a rotation roll the running tasks and publish a new function
    version instead of leaving them on what they read at start.
    """
    leaves = {**PARAMETER_LEAVES, **OPTIONAL_PARAMETER_LEAVES}
    # The optional ones only when present, so a stack without them keeps its revision.
    return ".".join(f"{leaves[env]}-v{versions[env]}" for env in leaves if env in versions)


class Secrets(pulumi.ComponentResource):
    """Database password, Redis AUTH token and API token in SSM SecureString."""

    parameter_names: dict[str, str]
    parameter_arns: dict[str, pulumi.Output[str]]
    error_tracking: bool
    """Whether the SENTRY_DSN parameter exists (compute then also gets RELEASE)."""
    config_revision: pulumi.Output[str]
    database_password: pulumi.Output[str]
    redis_auth_token: pulumi.Output[str]
    api_token: pulumi.Output[str]

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Generate the three secrets and store each as a SecureString parameter."""
        super().__init__(type_token("secrets", "Secrets"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def keepers(env: str) -> dict[str, str] | None:
            return rotation_keepers(args.revisions.get(env, 1))

        database_password = random.RandomPassword(
            f"{name}-database-password",
            length=DATABASE_PASSWORD_LENGTH,
            special=True,
            override_special=DATABASE_PASSWORD_SPECIALS,
            keepers=keepers("DATABASE_PASSWORD"),
            opts=child,
        )
        redis_token = random.RandomPassword(
            f"{name}-redis-password",
            length=REDIS_TOKEN_LENGTH,
            special=True,
            override_special=REDIS_TOKEN_SPECIALS,
            keepers=keepers("REDIS_PASSWORD"),
            opts=child,
        )
        api_token = random.RandomPassword(
            f"{name}-api-token",
            length=API_TOKEN_LENGTH,
            special=False,
            keepers=keepers("API_TOKEN"),
            opts=child,
        )
        values: dict[str, pulumi.Output[str]] = {
            "API_TOKEN": api_token.result,
            "DATABASE_PASSWORD": database_password.result,
            "REDIS_PASSWORD": redis_token.result,
        }

        self.parameter_names = {
            env: f"{args.ssm_prefix}/{leaf}" for env, leaf in PARAMETER_LEAVES.items()
        }
        self.parameter_arns = {}
        versions: dict[str, pulumi.Output[int]] = {}
        for env, leaf in PARAMETER_LEAVES.items():
            secret_value: pulumi.Output[str] = pulumi.Output.secret(values[env])
            parameter = aws.ssm.Parameter(
                f"{name}-{leaf}",
                name=self.parameter_names[env],
                type="SecureString",
                value=secret_value,
                description=f"{env} for the fastapi-on-aws service",
                # An explicit name cannot exist twice, so a replacement must
                # delete the old parameter first (INVARIANT C2).
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            self.parameter_arns[env] = parameter.arn
            versions[env] = parameter.version

        self.error_tracking = bool(args.sentry_dsn)
        if self.error_tracking:
            self._add_provided(name, args.ssm_prefix, "SENTRY_DSN", args.sentry_dsn, versions)
        envs = list(versions)
        self.config_revision = pulumi.Output.all(*versions.values()).apply(
            lambda numbers: config_revision(dict(zip(envs, numbers, strict=True)))
        )
        self.database_password = pulumi.Output.secret(database_password.result)
        self.redis_auth_token = pulumi.Output.secret(redis_token.result)
        self.api_token = pulumi.Output.secret(api_token.result)
        self._register()

    def _add_provided(
        self,
        name: str,
        prefix: str,
        env: str,
        value: str,
        versions: dict[str, pulumi.Output[int]],
    ) -> None:
        """An operator-provided secret (``OPTIONAL_PARAMETER_LEAVES``) as a SecureString."""
        leaf = OPTIONAL_PARAMETER_LEAVES[env]
        self.parameter_names[env] = f"{prefix}/{leaf}"
        parameter = aws.ssm.Parameter(
            f"{name}-{leaf}",
            name=self.parameter_names[env],
            type="SecureString",
            value=pulumi.Output.secret(value),
            description=f"{env} for the fastapi-on-aws service",
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.parameter_arns[env] = parameter.arn
        versions[env] = parameter.version

    def _register(self) -> None:
        self.register_outputs(
            {
                "parameterNames": self.parameter_names,
                "parameterArns": self.parameter_arns,
                "configRevision": self.config_revision,
            }
        )
