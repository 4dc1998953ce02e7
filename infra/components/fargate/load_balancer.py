"""The Fargate shape's entry point: the ALB, its target group and its listeners."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra.components.fargate.settings import FargateServiceArgs
from infra.documents import task_definition as td

# TLS 1.3 with TLS 1.2 fallback, no older protocols (INVARIANT B12).
TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Deploys converge fast: targets drain for at most 30 s (INVARIANT A15); the
# container's stopTimeout matches, so in-flight requests finish.
DEREGISTRATION_DELAY_SECONDS: Final = 30
HTTP_PORT: Final = 80
HTTPS_PORT: Final = 443


def listener_ports(https: bool) -> list[int]:
    """The ports the ALB listens on: 80 alone, or 80 (redirecting) and 443 with HTTPS."""
    return [HTTP_PORT, HTTPS_PORT] if https else [HTTP_PORT]


@dataclass(frozen=True)
class Frontend:
    """The load balancer, its target group and the listener that forwards to that group."""

    alb: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    serving_listener: aws.lb.Listener
    """The service depends on it: ECS rejects a target group no listener uses (INVARIANT A3)."""
    scheme: str
    """``https`` or ``http``: how clients reach the ALB."""


def create_frontend(
    name: str,
    args: FargateServiceArgs,
    security_group: aws.ec2.SecurityGroup,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> Frontend:
    """The ALB in the public subnets, the tasks' target group and the listeners."""
    alb = _load_balancer(name, args, security_group, tags=tags, parent=parent)
    target_group = _target_group(name, args, tags=tags, parent=parent)
    forward = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
    child = pulumi.ResourceOptions(parent=parent)
    if args.settings.https:
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
        _http_redirect(name, alb, tags=tags, opts=child)
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
    return Frontend(alb, target_group, serving_listener, scheme)


def _load_balancer(
    name: str,
    args: FargateServiceArgs,
    security_group: aws.ec2.SecurityGroup,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.lb.LoadBalancer:
    """The internet-facing ALB, with access logs when the stack keeps them."""
    access_logs = args.access_logs
    return aws.lb.LoadBalancer(
        f"{name}-alb",
        load_balancer_type="application",
        internal=False,
        subnets=args.public_subnet_ids,
        security_groups=[security_group.id],
        drop_invalid_header_fields=True,
        desync_mitigation_mode="defensive",
        # prod: a stray `pulumi destroy` or console click cannot drop the
        # entry point; a switch or teardown lifts it first (docs/switch-compute.md).
        enable_deletion_protection=args.settings.deletion_protection,
        access_logs=None
        if access_logs is None
        else aws.lb.LoadBalancerAccessLogsArgs(
            bucket=access_logs.bucket_name, prefix=access_logs.prefix, enabled=True
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=parent,
            # ELB writes a test object when logging is turned on: the
            # bucket policy must already admit it (INVARIANT B18).
            depends_on=[] if access_logs is None else list(access_logs.ready),
        ),
    )


def _target_group(
    name: str, args: FargateServiceArgs, *, tags: Mapping[str, str], parent: pulumi.Resource
) -> aws.lb.TargetGroup:
    """The tasks' IP target group, health-checked on the app's health path."""
    return aws.lb.TargetGroup(
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
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _http_redirect(
    name: str,
    alb: aws.lb.LoadBalancer,
    *,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.lb.Listener:
    """Port 80 answers with a permanent redirect to HTTPS, never with content."""
    return aws.lb.Listener(
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
        opts=opts,
    )
