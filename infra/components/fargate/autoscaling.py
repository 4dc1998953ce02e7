"""How many tasks run: target tracking on CPU and on requests per target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import pulumi
import pulumi_aws as aws

from infra.components.fargate.load_balancer import Frontend
from infra.components.fargate.settings import FargateSettings
from infra.documents import task_definition as td

SCALE_OUT_COOLDOWN_SECONDS: Final = 60
SCALE_IN_COOLDOWN_SECONDS: Final = 300


def create_autoscaling(
    name: str,
    settings: FargateSettings,
    cluster: aws.ecs.Cluster,
    service: aws.ecs.Service,
    frontend: Frontend,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.appautoscaling.Target:
    """The service's task count between min and max, tracked on CPU and on requests."""
    child = pulumi.ResourceOptions(parent=parent)
    scalable_target = aws.appautoscaling.Target(
        f"{name}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
        min_capacity=settings.min_count,
        max_capacity=settings.max_count,
        tags=tags,
        opts=child,
    )
    aws.appautoscaling.Policy(
        f"{name}-scale-cpu",
        policy_type="TargetTrackingScaling",
        service_namespace=scalable_target.service_namespace,
        scalable_dimension=scalable_target.scalable_dimension,
        resource_id=scalable_target.resource_id,
        target_tracking_scaling_policy_configuration=_tracking(
            "ECSServiceAverageCPUUtilization", settings.cpu_target_percent
        ),
        opts=child,
    )
    aws.appautoscaling.Policy(
        f"{name}-scale-requests",
        policy_type="TargetTrackingScaling",
        service_namespace=scalable_target.service_namespace,
        scalable_dimension=scalable_target.scalable_dimension,
        resource_id=scalable_target.resource_id,
        target_tracking_scaling_policy_configuration=_tracking(
            "ALBRequestCountPerTarget",
            settings.requests_per_target,
            resource_label=pulumi.Output.all(frontend.alb.arn, frontend.target_group.arn).apply(
                lambda arns: td.request_count_resource_label(arns[0], arns[1])
            ),
        ),
        opts=child,
    )
    return scalable_target


def _tracking(
    metric: str, target: int, *, resource_label: pulumi.Input[str] | None = None
) -> aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgsDict:
    """A target-tracking configuration on a predefined ECS/ALB metric."""
    predefined: aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgsDict = {  # noqa: E501 - the generated type name alone is 90 characters
        "predefined_metric_type": metric
    }
    if resource_label is not None:
        predefined["resource_label"] = resource_label
    return {
        "target_value": float(target),
        "predefined_metric_specification": predefined,
        # Scale out quickly under load, scale in slowly to avoid flapping.
        "scale_out_cooldown": SCALE_OUT_COOLDOWN_SECONDS,
        "scale_in_cooldown": SCALE_IN_COOLDOWN_SECONDS,
    }
