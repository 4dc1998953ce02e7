"""What a Fargate task runs as: its log group, its two roles and the task definition.

The documents (container definitions, IAM policies) come from the pure
functions in ``infra.documents.task_definition``; this module only wires
Outputs to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import physical_name
from infra.components.fargate.settings import FargateServiceArgs, FargateSettings
from infra.documents import iam
from infra.documents import task_definition as td


@dataclass(frozen=True)
class TaskRoles:
    """The execution role (the ECS agent) and the task role (the app), with the agent's grants."""

    execution: aws.iam.Role
    task: aws.iam.Role
    execution_grants: tuple[aws.iam.RolePolicyAttachment, aws.iam.RolePolicy]
    """Tasks cannot start before these exist: the service depends on them."""


def create_log_group(
    name: str, settings: FargateSettings, *, tags: Mapping[str, str], parent: pulumi.Resource
) -> aws.cloudwatch.LogGroup:
    """The containers' ``awslogs`` destination, kept ``log_retention_days``."""
    return aws.cloudwatch.LogGroup(
        f"{name}-logs",
        retention_in_days=settings.log_retention_days,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def create_task_roles(
    name: str, args: FargateServiceArgs, *, tags: Mapping[str, str], parent: pulumi.Resource
) -> TaskRoles:
    """Execution role with the managed policy and the SSM grant; a task role with none."""
    child = pulumi.ResourceOptions(parent=parent)
    trust = iam.to_json(td.ecs_tasks_trust_policy())
    execution_role = aws.iam.Role(
        f"{name}-execution-role",
        description="ECS agent: pull the image, write logs, read the app's SSM secrets",
        assume_role_policy=trust,
        tags=tags,
        opts=child,
    )
    managed_execution = aws.iam.RolePolicyAttachment(
        f"{name}-execution-managed",
        role=execution_role.name,
        policy_arn=td.EXECUTION_MANAGED_POLICY_ARN,
        opts=child,
    )
    execution_secrets = aws.iam.RolePolicy(
        f"{name}-execution-secrets",
        role=execution_role.id,
        policy=pulumi.Output.all(
            pulumi.Output.all(*args.secret_parameter_arns.values()),
            pulumi.Output.all(*args.kms_key_arns),
        ).apply(lambda arns: iam.to_json(td.execution_role_policy(arns[0], arns[1]))),
        opts=child,
    )
    # The app itself calls no AWS API on Fargate (secrets arrive as
    # environment through the execution role), so the task role has no
    # policy: it exists so nothing ever falls back to the execution role.
    task_role = aws.iam.Role(
        f"{name}-task-role",
        description="The application's own AWS identity (no permissions needed)",
        assume_role_policy=trust,
        tags=tags,
        opts=child,
    )
    return TaskRoles(execution_role, task_role, (managed_execution, execution_secrets))


def create_task_definition(
    name: str,
    args: FargateServiceArgs,
    log_group: aws.cloudwatch.LogGroup,
    roles: TaskRoles,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.ecs.TaskDefinition:
    """The Fargate task definition: one container from the image pinned by digest."""
    settings = args.settings
    platform = td.runtime_platform(settings.cpu_architecture)
    return aws.ecs.TaskDefinition(
        f"{name}-task",
        # A family is a revision series, not a unique name: a replacement
        # registers a new revision, so a fixed family never collides.
        family=physical_name(settings.stack, "app", max_length=255),
        container_definitions=_container_definitions(args, log_group.name),
        cpu=str(settings.task_cpu),
        memory=str(settings.task_memory),
        network_mode=td.NETWORK_MODE,
        requires_compatibilities=list(td.REQUIRES_COMPATIBILITIES),
        runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
            cpu_architecture=platform["cpuArchitecture"],
            operating_system_family=platform["operatingSystemFamily"],
        ),
        volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=v["name"]) for v in td.task_volumes()],
        execution_role_arn=roles.execution.arn,
        task_role_arn=roles.task.arn,
        # Replaced revisions stay ACTIVE, so an operator can roll the
        # service back to any earlier revision (docs/deploy.md).
        skip_destroy=True,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _container_definitions(
    args: FargateServiceArgs, log_group_name: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The container definitions JSON, once the image, log group and endpoints are known."""
    settings = args.settings
    secret_names = list(args.secret_parameter_arns)
    return pulumi.Output.all(
        args.image,
        log_group_name,
        _environment(args),
        pulumi.Output.all(*args.secret_parameter_arns.values()),
    ).apply(
        lambda values: json.dumps(
            td.container_definitions(
                td.ContainerSpec(
                    image=values[0],
                    log_group_name=values[1],
                    environment=values[2],
                    secret_parameter_arns=dict(zip(secret_names, values[3], strict=True)),
                    region=settings.region,
                    health_check_start_period=min(
                        settings.health_check_grace_seconds, td.MAX_HEALTH_CHECK_START_PERIOD
                    ),
                )
            ),
            sort_keys=True,
        )
    )


def _environment(args: FargateServiceArgs) -> pulumi.Output[dict[str, str]]:
    """The app's plain environment (no secret in it), once the data endpoints are known."""
    settings = args.settings
    return pulumi.Output.all(
        args.database_address,
        args.cache_endpoint,
        args.config_revision,
        args.release,
        args.auth_environment,
    ).apply(
        lambda values: td.service_environment(
            production=settings.production,
            database_address=values[0],
            redis_endpoint=values[1],
            log_level=settings.log_level,
            cors_origins=settings.cors_origins,
            cache_ttl_seconds=settings.cache_ttl_seconds,
            config_revision=values[2],
            cache_database=settings.cache_database,
            release=values[3],
            auth=values[4],
        )
    )
