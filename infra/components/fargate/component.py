"""The ``FargateService`` component: the shape's build steps in order, and its outputs."""

from __future__ import annotations

from typing import Any, Final

import pulumi
import pulumi_aws as aws

from infra.components import type_token
from infra.components.domain import AliasTarget
from infra.components.fargate.autoscaling import create_autoscaling
from infra.components.fargate.load_balancer import Frontend, create_frontend
from infra.components.fargate.security_groups import create_security_groups
from infra.components.fargate.service import ServiceInputs, create_cluster, create_ecs_service
from infra.components.fargate.settings import FargateServiceArgs, FargateSettings
from infra.components.fargate.task import (
    create_log_group,
    create_task_definition,
    create_task_roles,
)
from infra.components.identity import auth_environment
from infra.components.monitoring import AlarmSet, ComputeOperations, ComputeResult, create_alarms
from infra.components.shared import SharedLayers
from infra.config import StackConfig
from infra.documents import observability as obs

COMPONENT_TYPE: Final = type_token("fargate", "FargateService")


class FargateService(pulumi.ComponentResource):
    """The service on ECS Fargate behind an ALB, with health checks, rollbacks and autoscaling."""

    url: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    load_balancer_dns_name: pulumi.Output[str]
    task_security_group_id: pulumi.Output[str]
    alarms: AlarmSet
    alias_target: AliasTarget

    def __init__(
        self,
        name: str,
        args: FargateServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the shape's resources, one step per concern, as children of this component."""
        super().__init__(COMPONENT_TYPE, name, None, opts)
        settings = args.settings
        tags = dict(settings.tags)

        cluster = create_cluster(name, settings, tags=tags, parent=self)
        log_group = create_log_group(name, settings, tags=tags, parent=self)
        roles = create_task_roles(name, args, tags=tags, parent=self)
        groups = create_security_groups(name, args, tags=tags, parent=self)
        frontend = create_frontend(name, args, groups.alb, tags=tags, parent=self)
        task_definition = create_task_definition(
            name, args, log_group, roles, tags=tags, parent=self
        )
        # The rollout watches these alarms, so they must exist, by name, before the service.
        traffic = self._traffic_alarms(name, args, frontend)
        service = create_ecs_service(
            name,
            ServiceInputs(
                settings=settings,
                cluster=cluster,
                task_definition=task_definition,
                roles=roles,
                subnet_ids=args.private_subnet_ids,
                task_security_group=groups.task,
                frontend=frontend,
                rollout_alarms=traffic,
            ),
            tags=tags,
            parent=self,
        )
        create_autoscaling(name, settings, cluster, service, frontend, tags=tags, parent=self)
        # The service's own metrics need its name, so these alarms come after it.
        saturation = self._service_alarms(name, args, cluster, service)

        self.alarms = AlarmSet(
            specs=traffic.specs + saturation.specs,
            names={**traffic.names, **saturation.names},
            resources={**traffic.resources, **saturation.resources},
        )
        self.alias_target = AliasTarget(
            dns_name=frontend.alb.dns_name, zone_id=frontend.alb.zone_id
        )
        # No secret among the outputs (INVARIANT B7).
        self.url = pulumi.Output.concat(f"{frontend.scheme}://", frontend.alb.dns_name)
        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.load_balancer_dns_name = frontend.alb.dns_name
        self.task_security_group_id = groups.task.id
        self.register_outputs(
            {
                "url": self.url,
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "log_group_name": self.log_group_name,
                "load_balancer_dns_name": self.load_balancer_dns_name,
                "task_security_group_id": self.task_security_group_id,
            }
        )

    def _traffic_alarms(self, name: str, args: FargateServiceArgs, frontend: Frontend) -> AlarmSet:
        """The ALB and target-group alarms; the gating ones roll a bad deploy back."""
        return create_alarms(
            name,
            obs.fargate_traffic_alarms(
                args.operations.thresholds,
                load_balancer=frontend.alb.arn_suffix,
                target_group=frontend.target_group.arn_suffix,
            ),
            stack=args.settings.stack,
            topic_arn=args.operations.alarm_topic_arn,
            parent=self,
        )

    def _service_alarms(
        self,
        name: str,
        args: FargateServiceArgs,
        cluster: aws.ecs.Cluster,
        service: aws.ecs.Service,
    ) -> AlarmSet:
        """The service's saturation alarms: CPU and memory averaged over its tasks."""
        return create_alarms(
            name,
            obs.fargate_service_alarms(
                args.operations.thresholds, cluster=cluster.name, service=service.name
            ),
            stack=args.settings.stack,
            topic_arn=args.operations.alarm_topic_arn,
            parent=self,
        )


def build_fargate(
    cfg: StackConfig, shared: SharedLayers, operations: ComputeOperations
) -> ComputeResult:
    """The Fargate shape on top of the shared layers: its exports, alarms and endpoint."""
    service = FargateService(
        "app",
        FargateServiceArgs(
            settings=FargateSettings.from_config(cfg),
            vpc_id=shared.network.vpc_id,
            public_subnet_ids=shared.network.public_subnet_ids,
            private_subnet_ids=shared.network.private_subnet_ids,
            image=shared.registry.image_ref,
            secret_parameter_arns=shared.secrets.parameter_arns,
            database_address=shared.database.address,
            database_security_group_id=shared.database.security_group_id,
            cache_endpoint=shared.cache.primary_endpoint,
            cache_security_group_id=shared.cache.security_group_id,
            operations=operations,
            config_revision=shared.secrets.config_revision,
            access_logs=shared.access_logs,
            auth_environment=auth_environment(cfg.auth, shared.identity),
            release=shared.registry.image_tag if shared.secrets.error_tracking else None,
        ),
    )
    exports: dict[str, pulumi.Output[Any]] = {
        "url": service.url,
        "cluster_name": service.cluster_name,
        "service_name": service.service_name,
        "log_group_name": service.log_group_name,
    }
    return ComputeResult(exports=exports, alarms=service.alarms, alias_target=service.alias_target)
