"""The Fargate compute shape: the service on ECS Fargate behind an ALB.

One ComponentResource holds everything the shape adds on top of the shared
layers: cluster and log group, task definition and its two roles, the ALB with
its listeners and target group, the ECS service with safe rollouts, the
autoscaling policies, and the security-group rules that let the tasks reach
the database and the cache. Switching a stack to ``compute: lambda`` deletes
exactly this component; the data layers keep their URNs (INVARIANT C1).

The documents (container definitions, IAM policies) come from the pure
functions in ``infra.documents.task_definition``; this module only wires Outputs to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from infra.components import physical_name, type_token
from infra.components.access_logs import AccessLogBucket
from infra.components.domain import AliasTarget
from infra.components.monitoring import AlarmSet, ComputeOperations, ComputeResult, create_alarms
from infra.components.shared import SharedLayers
from infra.config import StackConfig
from infra.documents import iam
from infra.documents import observability as obs
from infra.documents import task_definition as td

COMPONENT_TYPE: Final = type_token("fargate", "FargateService")

# TLS 1.3 with TLS 1.2 fallback, no older protocols (INVARIANT B12).
TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Deploys converge fast: targets drain for at most 30 s (INVARIANT A15); the
# container's stopTimeout matches, so in-flight requests finish.
DEREGISTRATION_DELAY_SECONDS: Final = 30
HTTP_PORT: Final = 80
HTTPS_PORT: Final = 443
POSTGRES_PORT: Final = 5432
REDIS_PORT: Final = 6379
WORLD_IPV4: Final = "0.0.0.0/0"
SCALE_OUT_COOLDOWN_SECONDS: Final = 60
SCALE_IN_COOLDOWN_SECONDS: Final = 300


@dataclass(frozen=True)
class FargateSettings:
    """The stack settings the Fargate shape reads, taken from ``StackConfig``."""

    stack: str
    region: str
    production: bool
    cpu_architecture: str
    task_cpu: int
    task_memory: int
    desired_count: int
    min_count: int
    max_count: int
    container_insights: bool
    certificate_arn: str
    allow_http: bool
    cpu_target_percent: int
    requests_per_target: int
    health_check_grace_seconds: int
    log_retention_days: int
    log_level: str
    cors_origins: tuple[str, ...]
    cache_ttl_seconds: int
    tags: Mapping[str, str] = field(default_factory=dict)
    domain_name: str = ""
    """Custom domain: its managed certificate serves HTTPS when no certificateArn is set."""
    deletion_protection: bool = False
    """ALB deletion protection (``albDeletionProtection``, INVARIANT B18)."""

    def __post_init__(self) -> None:
        """Refuse combinations the listener or the cluster cannot honour."""
        if not self.https and not self.allow_http:
            raise ValueError(
                "config key 'certificateArn' is empty and 'allowHttp' is false: set an ACM "
                "certificate ARN (or domainName and hostedZoneId for a managed certificate) "
                "for HTTPS, or allowHttp: true to serve plain HTTP (dev only)"
            )
        if self.production and not self.container_insights:
            raise ValueError(
                "config key 'containerInsights' must be true on a production stack (INVARIANT B15)"
            )

    @classmethod
    def from_config(cls, cfg: StackConfig) -> FargateSettings:
        """Pick the Fargate keys out of the validated stack configuration."""
        return cls(
            stack=cfg.stack,
            region=cfg.region,
            production=cfg.production,
            cpu_architecture=cfg.cpu_architecture,
            task_cpu=cfg.task_cpu,
            task_memory=cfg.task_memory,
            desired_count=cfg.desired_count,
            min_count=cfg.min_count,
            max_count=cfg.max_count,
            container_insights=cfg.container_insights,
            certificate_arn=cfg.certificate_arn,
            allow_http=cfg.allow_http,
            cpu_target_percent=cfg.cpu_target_percent,
            requests_per_target=cfg.requests_per_target,
            health_check_grace_seconds=cfg.health_check_grace_seconds,
            log_retention_days=cfg.log_retention_days,
            log_level=cfg.log_level,
            cors_origins=cfg.cors_origins,
            cache_ttl_seconds=cfg.cache_ttl_seconds,
            tags=cfg.tags,
            domain_name=cfg.domain_name,
            deletion_protection=cfg.alb_deletion_protection,
        )

    @property
    def https(self) -> bool:
        """Whether the ALB terminates TLS (a configured or a managed certificate)."""
        return bool(self.certificate_arn or self.domain_name)


@dataclass(frozen=True)
class FargateServiceArgs:
    """What the Fargate shape needs from the shared layers, plus its settings."""

    settings: FargateSettings
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    image: pulumi.Input[str]
    """Image reference pinned by digest (``repo@sha256:…``), built for ``cpu_architecture``."""
    secret_parameter_arns: Mapping[str, pulumi.Input[str]]
    """Environment variable name → SSM SecureString parameter ARN."""
    database_address: pulumi.Input[str]
    database_security_group_id: pulumi.Input[str]
    cache_endpoint: pulumi.Input[str]
    cache_security_group_id: pulumi.Input[str]
    operations: ComputeOperations
    """Alarm topic and thresholds, and the certificate for the HTTPS listener."""
    config_revision: pulumi.Input[str] = "1"
    """The secrets' SSM versions (``CONFIG_REVISION``): a rotation rolls the tasks."""
    kms_key_arns: Sequence[pulumi.Input[str]] = ()
    """Customer-managed KMS keys encrypting the parameters (none: the aws/ssm key)."""
    access_logs: AccessLogBucket | None = None
    """The shared bucket the ALB writes its access logs to (none: no access logs)."""


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
        """Create the shape's resources as children of this component."""
        super().__init__(COMPONENT_TYPE, name, None, opts)
        settings = args.settings
        tags = dict(settings.tags)
        child = pulumi.ResourceOptions(parent=self)

        # --- cluster and logs ------------------------------------------------------------
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[
                aws.ecs.ClusterSettingArgs(
                    name="containerInsights",
                    value="enabled" if settings.container_insights else "disabled",
                )
            ],
            tags=tags,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=settings.log_retention_days,
            tags=tags,
            opts=child,
        )

        # --- IAM: execution role (ECS agent) and task role (the app) ---------------------
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
        kms_key_arns = list(args.kms_key_arns)
        execution_secrets = aws.iam.RolePolicy(
            f"{name}-execution-secrets",
            role=execution_role.id,
            policy=pulumi.Output.all(
                pulumi.Output.all(*args.secret_parameter_arns.values()),
                pulumi.Output.all(*kms_key_arns),
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

        # --- security groups (separate rule resources only, INVARIANT B3) ---------------
        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description="Application load balancer: HTTP(S) from the internet",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        )
        task_sg = aws.ec2.SecurityGroup(
            f"{name}-task-sg",
            description="Fargate tasks: port 8000 from the load balancer only",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        )
        listener_ports = [HTTP_PORT, HTTPS_PORT] if settings.https else [HTTP_PORT]
        for port in listener_ports:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-in-{port}",
                description=f"Clients to the load balancer on {port}",
                security_group_id=alb_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=WORLD_IPV4,
                tags=tags,
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-out-tasks",
            description="Load balancer to the tasks on the container port",
            security_group_id=alb_sg.id,
            ip_protocol="tcp",
            from_port=td.CONTAINER_PORT,
            to_port=td.CONTAINER_PORT,
            referenced_security_group_id=task_sg.id,
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-task-in-alb",
            description="Load balancer to the tasks on the container port",
            security_group_id=task_sg.id,
            ip_protocol="tcp",
            from_port=td.CONTAINER_PORT,
            to_port=td.CONTAINER_PORT,
            referenced_security_group_id=alb_sg.id,
            tags=tags,
            opts=child,
        )
        # Tasks reach ECR, CloudWatch Logs and SSM over HTTPS (through NAT or
        # VPC endpoints); the database and cache by security group.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-task-out-https",
            description="Tasks to AWS APIs (ECR, CloudWatch Logs, SSM) over HTTPS",
            security_group_id=task_sg.id,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=WORLD_IPV4,
            tags=tags,
            opts=child,
        )
        data_rules = (
            ("db", "PostgreSQL", POSTGRES_PORT, args.database_security_group_id),
            ("cache", "Redis", REDIS_PORT, args.cache_security_group_id),
        )
        for short, what, port, data_sg in data_rules:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-task-out-{short}",
                description=f"Tasks to {what} on {port}",
                security_group_id=task_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=data_sg,
                tags=tags,
                opts=child,
            )
            # Lives here, not in the data layer, so a compute switch replaces
            # this rule and never the database or cache (docs/contracts.md).
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{short}-in-tasks",
                description=f"Fargate tasks to {what} on {port}",
                security_group_id=data_sg,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=task_sg.id,
                tags=tags,
                opts=child,
            )

        # --- load balancer -----------------------------------------------------------------
        access_logs = args.access_logs
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=[alb_sg.id],
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            # prod: a stray `pulumi destroy` or console click cannot drop the
            # entry point; a switch or teardown lifts it first (docs/switch-compute.md).
            enable_deletion_protection=settings.deletion_protection,
            access_logs=None
            if access_logs is None
            else aws.lb.LoadBalancerAccessLogsArgs(
                bucket=access_logs.bucket_name, prefix=access_logs.prefix, enabled=True
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # ELB writes a test object when logging is turned on: the
                # bucket policy must already admit it (INVARIANT B18).
                depends_on=[] if access_logs is None else list(access_logs.ready),
            ),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            target_type="ip",
            protocol="HTTP",
            port=td.CONTAINER_PORT,
            vpc_id=args.vpc_id,
            deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTP",
                port="traffic-port",
                path=td.HEALTH_CHECK_PATH,
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=tags,
            opts=child,
        )
        forward = aws.lb.ListenerDefaultActionArgs(
            type="forward", target_group_arn=target_group.arn
        )
        if settings.https:
            if args.operations.certificate_arn is None:
                raise ValueError("the HTTPS listener needs operations.certificate_arn")
            serving_listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=HTTPS_PORT,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.operations.certificate_arn,
                default_actions=[forward],
                tags=tags,
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port=str(HTTPS_PORT), status_code="HTTP_301"
                        ),
                    )
                ],
                tags=tags,
                opts=child,
            )
            scheme = "https"
        else:
            serving_listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[forward],
                tags=tags,
                opts=child,
            )
            scheme = "http"

        # --- task definition ---------------------------------------------------------------
        environment = pulumi.Output.all(
            args.database_address, args.cache_endpoint, args.config_revision
        ).apply(
            lambda values: td.service_environment(
                production=settings.production,
                database_address=values[0],
                redis_endpoint=values[1],
                log_level=settings.log_level,
                cors_origins=settings.cors_origins,
                cache_ttl_seconds=settings.cache_ttl_seconds,
                config_revision=values[2],
            )
        )
        secret_names = list(args.secret_parameter_arns)
        container_definitions = pulumi.Output.all(
            args.image,
            log_group.name,
            environment,
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
        platform = td.runtime_platform(settings.cpu_architecture)
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            # A family is a revision series, not a unique name: a replacement
            # registers a new revision, so a fixed family never collides.
            family=physical_name(settings.stack, "app", max_length=255),
            container_definitions=container_definitions,
            cpu=str(settings.task_cpu),
            memory=str(settings.task_memory),
            network_mode=td.NETWORK_MODE,
            requires_compatibilities=list(td.REQUIRES_COMPATIBILITIES),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                cpu_architecture=platform["cpuArchitecture"],
                operating_system_family=platform["operatingSystemFamily"],
            ),
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=v["name"]) for v in td.task_volumes()],
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            # Replaced revisions stay ACTIVE, so an operator can roll the
            # service back to any earlier revision (docs/deploy.md).
            skip_destroy=True,
            tags=tags,
            opts=child,
        )

        # --- alarms the rollout watches (they must exist, by name, before the service) -----
        operations = args.operations
        traffic = create_alarms(
            name,
            obs.fargate_traffic_alarms(
                operations.thresholds,
                load_balancer=alb.arn_suffix,
                target_group=target_group.arn_suffix,
            ),
            stack=settings.stack,
            topic_arn=operations.alarm_topic_arn,
            parent=self,
        )

        # --- service -----------------------------------------------------------------------
        service = aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            launch_type="FARGATE",
            platform_version="LATEST",
            desired_count=settings.desired_count,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.private_subnet_ids,
                security_groups=[task_sg.id],
                assign_public_ip=False,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=target_group.arn,
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
                alarm_names=traffic.gating_names(), enable=True, rollback=True
            ),
            # Rolling update that never drops below the running capacity.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            # Migrations run before uvicorn listens; the ALB's failing checks
            # during that window must not get the task killed.
            health_check_grace_period_seconds=settings.health_check_grace_seconds,
            # `pulumi up` only succeeds once the new tasks are healthy, so a
            # failed rollout fails the deploy instead of passing silently.
            wait_for_steady_state=True,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # ECS rejects a target group not yet attached to a listener
                # (INVARIANT A3); tasks need their secrets grant before start.
                depends_on=[
                    serving_listener,
                    managed_execution,
                    execution_secrets,
                    *traffic.gating(),
                ],
                # After creation the autoscaler owns the task count; a deploy
                # must not reset it to the configured initial value.
                ignore_changes=["desiredCount"],
            ),
        )

        # --- autoscaling -------------------------------------------------------------------
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
            target_tracking_scaling_policy_configuration=self._tracking(
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
            target_tracking_scaling_policy_configuration=self._tracking(
                "ALBRequestCountPerTarget",
                settings.requests_per_target,
                resource_label=pulumi.Output.all(alb.arn, target_group.arn).apply(
                    lambda arns: td.request_count_resource_label(arns[0], arns[1])
                ),
            ),
            opts=child,
        )

        # --- the other alarms (the service's own metrics need its name) ------------------
        saturation = create_alarms(
            name,
            obs.fargate_service_alarms(
                operations.thresholds, cluster=cluster.name, service=service.name
            ),
            stack=settings.stack,
            topic_arn=operations.alarm_topic_arn,
            parent=self,
        )
        self.alarms = AlarmSet(
            specs=traffic.specs + saturation.specs,
            names={**traffic.names, **saturation.names},
            resources={**traffic.resources, **saturation.resources},
        )
        self.alias_target = AliasTarget(dns_name=alb.dns_name, zone_id=alb.zone_id)

        # --- outputs (no secret among them, INVARIANT B7) ----------------------------------
        self.url = pulumi.Output.concat(f"{scheme}://", alb.dns_name)
        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.load_balancer_dns_name = alb.dns_name
        self.task_security_group_id = task_sg.id
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

    @staticmethod
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
        ),
    )
    exports: dict[str, pulumi.Output[Any]] = {
        "url": service.url,
        "cluster_name": service.cluster_name,
        "service_name": service.service_name,
        "log_group_name": service.log_group_name,
    }
    return ComputeResult(exports=exports, alarms=service.alarms, alias_target=service.alias_target)
