"""The function's and the proxy's security groups, and every rule between them and the data layers.

Separate rule resources only (INVARIANT B3). The function is invoked through
the Lambda API, never over the network, so its group admits nothing
(INVARIANT B2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra.components.serverless.scope import Scope
from infra.components.serverless.settings import ServerlessServiceArgs

HTTPS_PORT: Final = 443
POSTGRES_PORT: Final = 5432
REDIS_PORT: Final = 6379
WORLD_IPV4: Final = "0.0.0.0/0"

# (logical name suffix, group the rule belongs to, port, peer group or None for
# the world, description).
_Rule = tuple[str, pulumi.Input[str], int, pulumi.Input[str] | None, str]


@dataclass(frozen=True)
class SecurityGroups:
    """The two groups the shape adds, and every rule it creates (in or out of any group)."""

    function: aws.ec2.SecurityGroup
    proxy: aws.ec2.SecurityGroup
    ingress_rules: list[aws.vpc.SecurityGroupIngressRule]
    egress_rules: list[aws.vpc.SecurityGroupEgressRule]

    @property
    def rules(self) -> list[pulumi.Resource]:
        """Every rule, ingress first: what must exist before the function reaches anything."""
        return [*self.ingress_rules, *self.egress_rules]


def create_security_groups(scope: Scope, args: ServerlessServiceArgs) -> SecurityGroups:
    """The function's group (no ingress), the proxy's, and the rules from function to data."""
    function_sg = aws.ec2.SecurityGroup(
        f"{scope.name}-function-sg",
        description="Lambda function: no ingress; out to the proxy, Redis and AWS APIs",
        vpc_id=args.vpc_id,
        tags=scope.tags,
        opts=scope.opts(),
    )
    proxy_sg = aws.ec2.SecurityGroup(
        f"{scope.name}-proxy-sg",
        description="RDS Proxy: PostgreSQL from the Lambda function only",
        vpc_id=args.vpc_id,
        tags=scope.tags,
        opts=scope.opts(),
    )
    egress: tuple[_Rule, ...] = (
        ("function-out-https", function_sg.id, HTTPS_PORT, None,
         "Lambda function to AWS APIs (SSM) over HTTPS"),
        ("function-out-proxy", function_sg.id, POSTGRES_PORT, proxy_sg.id,
         "Lambda function to the RDS Proxy on 5432"),
        ("function-out-cache", function_sg.id, REDIS_PORT, args.cache_security_group_id,
         "Lambda function to Redis on 6379"),
        ("proxy-out-db", proxy_sg.id, POSTGRES_PORT, args.database_security_group_id,
         "RDS Proxy to PostgreSQL on 5432"),
    )  # fmt: skip
    # Ingress into the data layers lives here, not there, so a compute
    # switch replaces these rules and never the database or cache
    # (docs/contracts.md).
    ingress: tuple[_Rule, ...] = (
        ("proxy-in-function", proxy_sg.id, POSTGRES_PORT, function_sg.id,
         "Lambda function to the RDS Proxy on 5432"),
        ("db-in-proxy", args.database_security_group_id, POSTGRES_PORT, proxy_sg.id,
         "RDS Proxy to PostgreSQL on 5432"),
        ("cache-in-function", args.cache_security_group_id, REDIS_PORT, function_sg.id,
         "Lambda function to Redis on 6379"),
    )  # fmt: skip
    return SecurityGroups(
        function=function_sg,
        proxy=proxy_sg,
        egress_rules=[_egress_rule(scope, rule) for rule in egress],
        ingress_rules=[_ingress_rule(scope, rule) for rule in ingress],
    )


def _egress_rule(scope: Scope, rule: _Rule) -> aws.vpc.SecurityGroupEgressRule:
    """One TCP egress rule to a peer group, or to the world when the peer is None."""
    suffix, group, port, peer, description = rule
    return aws.vpc.SecurityGroupEgressRule(
        f"{scope.name}-{suffix}",
        description=description,
        security_group_id=group,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=peer,
        cidr_ipv4=WORLD_IPV4 if peer is None else None,
        tags=scope.tags,
        opts=scope.opts(),
    )


def _ingress_rule(scope: Scope, rule: _Rule) -> aws.vpc.SecurityGroupIngressRule:
    """One TCP ingress rule from a peer group."""
    suffix, group, port, peer, description = rule
    return aws.vpc.SecurityGroupIngressRule(
        f"{scope.name}-{suffix}",
        description=description,
        security_group_id=group,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=peer,
        tags=scope.tags,
        opts=scope.opts(),
    )
