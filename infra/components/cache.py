"""Cache: ElastiCache Redis replication group with TLS and an AUTH token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import type_token

REDIS_PORT = 6379


@dataclass(frozen=True)
class CacheArgs:
    """Inputs of the Cache component."""

    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    auth_token: pulumi.Input[str]
    engine_version: str
    node_type: str
    node_count: int
    snapshot_retention_days: int
    apply_immediately: bool
    protect: bool
    # ROTATE keeps the old token valid next to the new one; SET (the second step
    # of a rotation, docs/runbook.md) makes the current token the only one.
    auth_token_update_strategy: str = "ROTATE"  # noqa: S105 (a strategy name)
    # Set in prod: deleting the group (a deliberate teardown) keeps its data.
    final_snapshot_identifier: str | None = None


class Cache(pulumi.ComponentResource):
    """Redis replication group, its subnet group and (rule-less) security group."""

    security_group_id: pulumi.Output[str]
    primary_endpoint: pulumi.Output[str]
    port: int
    url: pulumi.Output[str]
    replication_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the cache layer; compute adds the ingress rules it needs."""
        super().__init__(type_token("cache", "Cache"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.port = REDIS_PORT

        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description="Private subnets of the fastapi-on-aws cache",
            subnet_ids=list(args.subnet_ids),
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="Redis: ingress rules are added by the compute layer",
            opts=child,
        )
        self.security_group_id = security_group.id

        replicated = args.node_count >= 2
        group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            description="fastapi-on-aws item cache",
            engine="redis",
            engine_version=args.engine_version,
            auto_minor_version_upgrade=True,
            node_type=args.node_type,
            num_cache_clusters=args.node_count,
            port=REDIS_PORT,
            subnet_group_name=subnet_group.name,
            security_group_ids=[security_group.id],
            at_rest_encryption_enabled=True,
            # AUTH tokens are only accepted with TLS in transit (INVARIANT A8).
            transit_encryption_enabled=True,
            auth_token=args.auth_token,
            # A token change updates in place, never replaces the group (INVARIANT C6).
            # The provider sends ModifyReplicationGroup(AuthToken, Strategy) when
            # either changes, so flipping only the strategy to SET completes a
            # ROTATE: the old token stops working (docs/runbook.md, "Lifecycle").
            auth_token_update_strategy=args.auth_token_update_strategy,
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            snapshot_retention_limit=args.snapshot_retention_days,
            final_snapshot_identifier=args.final_snapshot_identifier,
            apply_immediately=args.apply_immediately,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.primary_endpoint = group.primary_endpoint_address
        # Alarms address the group's nodes by their member cluster ids.
        self.replication_group_id = group.replication_group_id
        self.url = group.primary_endpoint_address.apply(
            lambda host: f"rediss://{host}:{REDIS_PORT}/0"
        )
        self.register_outputs(
            {
                "primaryEndpoint": self.primary_endpoint,
                "port": self.port,
                "securityGroupId": self.security_group_id,
            }
        )
