"""Who reaches whom in the Fargate shape: the ALB's and the tasks' security groups.

Every rule is its own resource, never an inline block (INVARIANT B3), so a
rule added or dropped here never rewrites a group another layer owns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra.components.fargate.load_balancer import HTTPS_PORT, listener_ports
from infra.components.fargate.settings import FargateServiceArgs
from infra.documents import task_definition as td

POSTGRES_PORT: Final = 5432
REDIS_PORT: Final = 6379
WORLD_IPV4: Final = "0.0.0.0/0"


@dataclass(frozen=True)
class SecurityGroups:
    """The load balancer's and the tasks' security groups."""

    alb: aws.ec2.SecurityGroup
    task: aws.ec2.SecurityGroup


def create_security_groups(
    name: str, args: FargateServiceArgs, *, tags: Mapping[str, str], parent: pulumi.Resource
) -> SecurityGroups:
    """Both groups and their rules, plus the data layers' ingress from the tasks."""
    child = pulumi.ResourceOptions(parent=parent)
    groups = SecurityGroups(
        alb=aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description="Application load balancer: HTTP(S) from the internet",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        ),
        task=aws.ec2.SecurityGroup(
            f"{name}-task-sg",
            description="Fargate tasks: port 8000 from the load balancer only",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        ),
    )
    _clients_to_alb_to_tasks(name, groups, args.settings.https, tags=tags, opts=child)
    _tasks_to_aws_and_data(name, groups.task, args, tags=tags, opts=child)
    return groups


def _clients_to_alb_to_tasks(
    name: str,
    groups: SecurityGroups,
    https: bool,
    *,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> None:
    """The internet reaches the ALB's listener ports; the ALB reaches the container port."""
    for port in listener_ports(https):
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-alb-in-{port}",
            description=f"Clients to the load balancer on {port}",
            security_group_id=groups.alb.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=WORLD_IPV4,
            tags=tags,
            opts=opts,
        )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-alb-out-tasks",
        description="Load balancer to the tasks on the container port",
        security_group_id=groups.alb.id,
        ip_protocol="tcp",
        from_port=td.CONTAINER_PORT,
        to_port=td.CONTAINER_PORT,
        referenced_security_group_id=groups.task.id,
        tags=tags,
        opts=opts,
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-task-in-alb",
        description="Load balancer to the tasks on the container port",
        security_group_id=groups.task.id,
        ip_protocol="tcp",
        from_port=td.CONTAINER_PORT,
        to_port=td.CONTAINER_PORT,
        referenced_security_group_id=groups.alb.id,
        tags=tags,
        opts=opts,
    )


def _tasks_to_aws_and_data(
    name: str,
    task_sg: aws.ec2.SecurityGroup,
    args: FargateServiceArgs,
    *,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> None:
    """Tasks reach AWS APIs over HTTPS and the database and cache by security group."""
    # ECR, CloudWatch Logs and SSM answer on HTTPS, through NAT or VPC endpoints.
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-task-out-https",
        description="Tasks to AWS APIs (ECR, CloudWatch Logs, SSM) over HTTPS",
        security_group_id=task_sg.id,
        ip_protocol="tcp",
        from_port=HTTPS_PORT,
        to_port=HTTPS_PORT,
        cidr_ipv4=WORLD_IPV4,
        tags=tags,
        opts=opts,
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
            opts=opts,
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
            opts=opts,
        )
