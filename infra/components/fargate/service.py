"""Where the tasks run: the ECS cluster and the service with its safe rollouts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.fargate.load_balancer import Frontend
from infra.components.fargate.settings import FargateSettings
from infra.components.fargate.task import TaskRoles
from infra.components.monitoring import AlarmSet
from infra.documents import task_definition as td


@dataclass(frozen=True)
class ServiceInputs:
    """What the ECS service runs, where, behind what, and which alarms roll it back."""

    settings: FargateSettings
    cluster: aws.ecs.Cluster
    task_definition: aws.ecs.TaskDefinition
    roles: TaskRoles
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The private subnets: tasks get no public address."""
    task_security_group: aws.ec2.SecurityGroup
    frontend: Frontend
    rollout_alarms: AlarmSet
    """The traffic alarms ECS watches during a rollout (they exist before the service)."""


def create_cluster(
    name: str, settings: FargateSettings, *, tags: Mapping[str, str], parent: pulumi.Resource
) -> aws.ecs.Cluster:
    """The ECS cluster, Container Insights on when configured (required on prod)."""
    return aws.ecs.Cluster(
        f"{name}-cluster",
        settings=[
            aws.ecs.ClusterSettingArgs(
                name="containerInsights",
                value="enabled" if settings.container_insights else "disabled",
            )
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def create_ecs_service(
    name: str, inputs: ServiceInputs, *, tags: Mapping[str, str], parent: pulumi.Resource
) -> aws.ecs.Service:
    """The Fargate service: rolling, alarm-gated deploys that roll back on their own."""
    return aws.ecs.Service(
        f"{name}-service",
        cluster=inputs.cluster.arn,
        task_definition=inputs.task_definition.arn,
        launch_type="FARGATE",
        platform_version="LATEST",
        desired_count=inputs.settings.desired_count,
        network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
            subnets=inputs.subnet_ids,
            security_groups=[inputs.task_security_group.id],
            assign_public_ip=False,
        ),
        load_balancers=[
            aws.ecs.ServiceLoadBalancerArgs(
                target_group_arn=inputs.frontend.target_group.arn,
                container_name=td.CONTAINER_NAME,
                container_port=td.CONTAINER_PORT,
            )
        ],
        # A deploy whose tasks never turn healthy rolls back on its own.
        deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
            enable=True, rollback=True
        ),
        # ...and so does one whose tasks are healthy but serve 5xx or fail
        # the target group's checks: ECS watches these alarms during the
        # rollout and rolls back when one goes to ALARM.
        alarms=aws.ecs.ServiceAlarmsArgs(
            alarm_names=inputs.rollout_alarms.gating_names(), enable=True, rollback=True
        ),
        # Rolling update that never drops below the running capacity.
        deployment_minimum_healthy_percent=100,
        deployment_maximum_percent=200,
        # Migrations run before uvicorn listens; the ALB's failing checks
        # during that window must not get the task killed.
        health_check_grace_period_seconds=inputs.settings.health_check_grace_seconds,
        # `pulumi up` only succeeds once the new tasks are healthy, so a
        # failed rollout fails the deploy instead of passing silently.
        wait_for_steady_state=True,
        propagate_tags="SERVICE",
        enable_ecs_managed_tags=True,
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=parent,
            # ECS rejects a target group not yet attached to a listener
            # (INVARIANT A3); tasks need their secrets grant before start.
            depends_on=[
                inputs.frontend.serving_listener,
                *inputs.roles.execution_grants,
                *inputs.rollout_alarms.gating(),
            ],
            # After creation the autoscaler owns the task count; a deploy
            # must not reset it to the configured initial value.
            ignore_changes=["desiredCount"],
        ),
    )
