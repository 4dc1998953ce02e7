"""The function's role and the serving function: the service image, target ``lambda``, by digest.

``image_function`` is the one builder behind both Lambda functions of the
shape (serving and migrate, see ``release``): same image, handler, size, role,
network and log group; they differ only in what the caller passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.serverless.scope import Scope
from infra.components.serverless.settings import ServerlessServiceArgs
from infra.documents import iam
from infra.documents import serverless as ld


@dataclass(frozen=True)
class FunctionRole:
    """The role both functions run as (INVARIANTS A11, B11), with its policies."""

    role: aws.iam.Role
    managed: list[aws.iam.RolePolicyAttachment]
    """Logs and VPC networking: Lambda checks them when it creates a function."""
    parameters_policy: aws.iam.RolePolicy
    """Read the app's SSM parameters: the migration needs it before it runs."""


@dataclass(frozen=True)
class FunctionBase:
    """What the serving and the migrate function share."""

    image: pulumi.Input[str]
    architecture: str
    memory_mb: int
    role: FunctionRole
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_id: pulumi.Input[str]
    log_group_name: pulumi.Input[str]

    @classmethod
    def of(
        cls,
        args: ServerlessServiceArgs,
        role: FunctionRole,
        *,
        security_group_id: pulumi.Input[str],
        log_group_name: pulumi.Input[str],
    ) -> FunctionBase:
        """The shared part from the shape's settings, its role, group and log group."""
        return cls(
            image=args.image,
            architecture=args.settings.cpu_architecture,
            memory_mb=args.settings.memory_mb,
            role=role,
            subnet_ids=args.private_subnet_ids,
            security_group_id=security_group_id,
            log_group_name=log_group_name,
        )


def create_function_role(scope: Scope, args: ServerlessServiceArgs) -> FunctionRole:
    """Logs, VPC networking, and reading the app's SSM parameters; nothing else."""
    role = aws.iam.Role(
        f"{scope.name}-function-role",
        description="Lambda function: logs, VPC networking, read the app's SSM parameters",
        assume_role_policy=iam.to_json(ld.lambda_trust_policy()),
        tags=scope.tags,
        opts=scope.opts(),
    )
    managed = [
        aws.iam.RolePolicyAttachment(
            f"{scope.name}-function-{suffix}",
            role=role.name,
            policy_arn=policy_arn,
            opts=scope.opts(),
        )
        for suffix, policy_arn in (
            ("basic-execution", ld.BASIC_EXECUTION_POLICY_ARN),
            ("vpc-access", ld.VPC_ACCESS_POLICY_ARN),
        )
    ]
    parameters_policy = aws.iam.RolePolicy(
        f"{scope.name}-function-parameters",
        role=role.id,
        policy=pulumi.Output.all(*args.secret_parameter_arns.values()).apply(
            lambda arns: iam.to_json(ld.function_policy(arns))
        ),
        opts=scope.opts(),
    )
    return FunctionRole(role=role, managed=managed, parameters_policy=parameters_policy)


def serving_environment(
    args: ServerlessServiceArgs, proxy_endpoint: pulumi.Input[str]
) -> pulumi.Output[dict[str, str]]:
    """The serving function's environment (docs/contracts.md): secrets by SSM name only."""
    settings = args.settings
    parameter_names = dict(args.secret_parameter_names)
    return pulumi.Output.all(
        proxy_endpoint,
        args.cache_endpoint,
        args.config_revision,
        args.release,
        args.auth_environment,
    ).apply(
        lambda values: ld.function_environment(
            production=settings.production,
            proxy_endpoint=values[0],
            redis_endpoint=values[1],
            log_level=settings.log_level,
            cors_origins=settings.cors_origins,
            cache_ttl_seconds=settings.cache_ttl_seconds,
            parameter_names=parameter_names,
            config_revision=values[2],
            cache_database=settings.cache_database,
            release=values[3],
            auth=values[4],
        )
    )


def create_serving_function(
    scope: Scope,
    base: FunctionBase,
    args: ServerlessServiceArgs,
    environment: pulumi.Input[Mapping[str, str]],
) -> aws.lambda_.Function:
    """The function the HTTP API invokes (through the ``live`` alias)."""
    settings = args.settings
    return image_function(
        scope,
        f"{scope.name}-function",
        base,
        description="fastapi-on-aws service (Mangum behind an HTTP API)",
        timeout_seconds=settings.timeout_seconds,
        # -1 is the provider's "no reservation".
        reserved_concurrency=settings.reserved_concurrency,
        environment=environment,
    )


def image_function(
    scope: Scope,
    resource_name: str,
    base: FunctionBase,
    *,
    description: str,
    timeout_seconds: int,
    reserved_concurrency: int,
    environment: pulumi.Input[Mapping[str, str]],
) -> aws.lambda_.Function:
    """A function from the service image in the private subnets, logging to the shape's group."""
    return aws.lambda_.Function(
        resource_name,
        description=description,
        package_type="Image",
        image_uri=base.image,
        image_config=aws.lambda_.FunctionImageConfigArgs(commands=list(ld.HANDLER_COMMAND)),
        architectures=[base.architecture],
        memory_size=base.memory_mb,
        timeout=timeout_seconds,
        reserved_concurrent_executions=reserved_concurrency,
        role=base.role.role.arn,
        vpc_config=aws.lambda_.FunctionVpcConfigArgs(
            subnet_ids=base.subnet_ids,
            security_group_ids=[base.security_group_id],
        ),
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="Text", log_group=base.log_group_name
        ),
        # Every change publishes an immutable version: the alias moves to
        # it only after the migrations ran against it.
        publish=True,
        tags=scope.tags,
        # Lambda checks the VPC permissions when it creates the function.
        opts=scope.opts(depends_on=base.role.managed),
    )
