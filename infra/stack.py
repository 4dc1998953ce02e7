"""The whole stack: shared, compute-independent layers, then the compute shape.

The shared layers' logical names never depend on ``compute`` or any other
config value, so switching the compute shape replaces compute resources only
(INVARIANTS C1, C2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.components.cache import Cache, CacheArgs
from infra.components.database import Database, DatabaseArgs
from infra.components.fargate import build_fargate
from infra.components.network import Network, NetworkArgs
from infra.components.registry import Registry, RegistryArgs
from infra.components.secrets import Secrets, SecretsArgs
from infra.components.serverless import build_serverless
from infra.config import StackConfig
from infra.tags import register_stack_tags

Exports = dict[str, pulumi.Output[Any]]


@dataclass(frozen=True)
class SharedLayers:
    """The compute-independent components a compute shape builds on."""

    network: Network
    registry: Registry
    secrets: Secrets
    database: Database
    cache: Cache


def build_shared(cfg: StackConfig) -> SharedLayers:
    """Network, registry, secrets, database and cache for ``cfg``."""
    network = Network(
        "network",
        NetworkArgs(
            vpc_cidr=cfg.vpc_cidr,
            az_count=cfg.az_count,
            nat_strategy=cfg.nat_strategy,
            vpc_endpoints=cfg.vpc_endpoints,
            flow_logs=cfg.flow_logs,
            log_retention_days=cfg.log_retention_days,
            region=cfg.region,
        ),
    )
    registry = Registry(
        "registry",
        RegistryArgs(
            target=cfg.image_target,
            platform=cfg.docker_platform,
            force_delete=not cfg.is_prod,
        ),
    )
    secrets = Secrets("secrets", SecretsArgs(ssm_prefix=cfg.ssm_prefix))
    database = Database(
        "database",
        DatabaseArgs(
            stack=cfg.stack,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            password=secrets.database_password,
            engine_version=cfg.db_engine_version,
            instance_class=cfg.db_instance_class,
            allocated_storage_gb=cfg.db_allocated_storage_gb,
            max_allocated_storage_gb=cfg.db_max_allocated_storage_gb,
            multi_az=cfg.db_multi_az,
            backup_retention_days=cfg.db_backup_retention_days,
            deletion_protection=cfg.db_deletion_protection,
            skip_final_snapshot=cfg.db_skip_final_snapshot,
            log_exports=cfg.is_prod,
            log_retention_days=cfg.log_retention_days,
            protect=cfg.protect_data,
        ),
    )
    cache = Cache(
        "cache",
        CacheArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            auth_token=secrets.redis_auth_token,
            engine_version=cfg.cache_engine_version,
            node_type=cfg.cache_node_type,
            node_count=cfg.cache_node_count,
            snapshot_retention_days=cfg.cache_snapshot_retention_days,
            # prod applies changes in the maintenance window.
            apply_immediately=not cfg.is_prod,
            protect=cfg.protect_data,
        ),
    )
    return SharedLayers(network, registry, secrets, database, cache)


def _build_compute(cfg: StackConfig, shared: SharedLayers) -> Exports:
    """THE single call site of the compute shape, chosen by ``cfg.compute``.

    The Fargate (infra/components/fargate.py) and Lambda
    (infra/components/serverless.py) components are wired here, and only here;
    each returns the exports it adds to the stack.
    """
    # COMPUTE WIRING: the compute engineers replace this body.
    if cfg.compute == "fargate":
        return build_fargate(cfg, shared)
    if cfg.compute == "lambda":
        return build_serverless(cfg, shared)
    raise ValueError(f"config key 'compute' is {cfg.compute!r}: allowed fargate, lambda")


def build(cfg: StackConfig) -> Exports:
    """Build every resource of the stack and return its exports."""
    register_stack_tags(cfg.tags)
    shared = build_shared(cfg)
    exports: Exports = {
        "compute": pulumi.Output.from_input(cfg.compute),
        "vpcId": shared.network.vpc_id,
        "publicSubnetIds": pulumi.Output.all(*shared.network.public_subnet_ids),
        "privateSubnetIds": pulumi.Output.all(*shared.network.private_subnet_ids),
        "repositoryUrl": shared.registry.repository_url,
        "imageRef": shared.registry.image_ref,
        "databaseAddress": shared.database.address,
        "databasePort": pulumi.Output.from_input(shared.database.port),
        "cacheEndpoint": shared.cache.primary_endpoint,
        "ssmParameterNames": pulumi.Output.from_input(shared.secrets.parameter_names),
    }
    exports.update(_build_compute(cfg, shared))
    return exports
