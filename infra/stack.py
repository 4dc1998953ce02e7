"""The whole stack: shared, compute-independent layers, then the compute shape.

The shared layers' logical names never depend on ``compute`` or any other
config value, so switching the compute shape replaces compute resources only
(INVARIANTS C1, C2).
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.components import physical_name
from infra.components.access_logs import AccessLogBucket, AccessLogBucketArgs
from infra.components.cache import Cache, CacheArgs
from infra.components.database import Database, DatabaseArgs
from infra.components.domain import (
    DomainAlias,
    DomainAliasArgs,
    DomainArgs,
    DomainCertificate,
)
from infra.components.fargate import build_fargate
from infra.components.identity import Identity, IdentityArgs
from infra.components.monitoring import (
    ComputeOperations,
    ComputeResult,
    Dashboard,
    DashboardArgs,
    Monitoring,
    MonitoringArgs,
)
from infra.components.network import Network, NetworkArgs
from infra.components.registry import Registry, RegistryArgs
from infra.components.secrets import Secrets, SecretsArgs
from infra.components.serverless import build_serverless
from infra.components.shared import SharedLayers
from infra.config import StackConfig
from infra.documents.observability import Thresholds
from infra.tags import register_stack_tags

Exports = dict[str, pulumi.Output[Any]]


def build_secrets(cfg: StackConfig) -> Secrets:
    """The SSM secrets: the generated ones at their rotation revisions, and ``sentryDsn``."""
    return Secrets(
        "secrets",
        SecretsArgs(
            ssm_prefix=cfg.ssm_prefix,
            revisions={
                "DATABASE_PASSWORD": cfg.database_password_revision,
                "REDIS_PASSWORD": cfg.cache_auth_token_revision,
                "API_TOKEN": cfg.api_token_revision,
            },
            sentry_dsn=cfg.sentry_dsn,
        ),
    )


def build_shared(cfg: StackConfig) -> SharedLayers:
    """Network, registry, secrets, database, cache and access-log bucket for ``cfg``."""
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
    secrets = build_secrets(cfg)
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
            performance_insights=cfg.db_performance_insights,
            monitoring_interval_seconds=cfg.db_monitoring_interval_seconds,
            log_min_duration_ms=cfg.db_log_min_duration_ms,
            restore=cfg.restore_source,
            serve_restored=cfg.db_serving == "restored",
            primary_retired=cfg.db_primary_retired,
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
            auth_token_update_strategy=cfg.cache_auth_token_update_strategy,
            protect=cfg.protect_data,
            final_snapshot_identifier=physical_name(cfg.stack, "redis-final")
            if cfg.is_prod
            else None,
        ),
    )
    # Independent of the compute shape (the Lambda shape writes nothing to it), so
    # a switch neither deletes it nor has to empty it first (INVARIANT C1).
    access_logs = (
        AccessLogBucket(
            "access-logs",
            AccessLogBucketArgs(
                region=cfg.region,
                retention_days=cfg.log_retention_days,
                force_destroy=not cfg.is_prod,
            ),
        )
        if cfg.alb_access_logs
        else None
    )
    # Compute-independent too: a switch keeps the pool and the callers' credentials.
    identity = (
        Identity(
            "identity",
            IdentityArgs(
                stack=cfg.stack,
                region=cfg.region,
                ssm_prefix=cfg.ssm_prefix,
                write_scope=cfg.auth.write_scope,
                production=cfg.is_prod,
            ),
        )
        if cfg.auth.creates_pool
        else None
    )
    return SharedLayers(network, registry, secrets, database, cache, access_logs, identity)


def thresholds(cfg: StackConfig) -> Thresholds:
    """The alarm thresholds of ``cfg`` (the ``alarm*`` keys)."""
    return Thresholds(
        production=cfg.production,
        error_rate_percent=cfg.alarm_5xx_rate_percent,
        latency_p99_ms=cfg.alarm_latency_p99_ms,
        cpu_percent=cfg.alarm_cpu_percent,
        memory_percent=cfg.alarm_memory_percent,
        throttles=cfg.alarm_throttles,
        db_free_storage_gb=cfg.alarm_db_free_storage_gb,
        db_connections=cfg.alarm_db_connections,
        cache_memory_percent=cfg.alarm_cache_memory_percent,
        cache_evictions=cfg.alarm_cache_evictions,
    )


def _build_compute(
    cfg: StackConfig, shared: SharedLayers, operations: ComputeOperations
) -> ComputeResult:
    """THE single call site of the compute shape, chosen by ``cfg.compute``.

    The Fargate (infra/components/fargate/) and Lambda
    (infra/components/serverless/) components are wired here, and only here;
    each returns the exports it adds to the stack, its alarms and its endpoint.
    """
    if cfg.compute == "fargate":
        return build_fargate(cfg, shared, operations)
    if cfg.compute == "lambda":
        return build_serverless(cfg, shared, operations)
    raise ValueError(f"config key 'compute' is {cfg.compute!r}: allowed fargate, lambda")


def build(cfg: StackConfig) -> Exports:
    """Build every resource of the stack and return its exports.

    Order: the shared layers; then what operations needs before compute (the
    alarm topic with the data-layer alarms, the domain's certificate); the
    compute shape with its own alarms; then the domain's alias record and the
    dashboard, which point at compute. Every operations resource outside the
    compute component has a logical name independent of ``compute``.
    """
    register_stack_tags(cfg.tags)
    shared = build_shared(cfg)
    limits = thresholds(cfg)
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            stack=cfg.stack,
            region=cfg.region,
            thresholds=limits,
            alarm_email=cfg.alarm_email,
            database_identifier=shared.database.identifier,
            cache_group_id=shared.cache.replication_group_id,
            cache_node_count=cfg.cache_node_count,
        ),
    )
    domain = DomainArgs(cfg.domain_name, cfg.hosted_zone_id) if cfg.custom_domain else None
    certificate_arn: pulumi.Input[str] | None = cfg.certificate_arn or None
    if domain is not None and cfg.managed_certificate:
        certificate_arn = DomainCertificate("domain", domain).certificate_arn
    compute = _build_compute(
        cfg,
        shared,
        ComputeOperations(
            stack=cfg.stack,
            thresholds=limits,
            alarm_topic_arn=monitoring.topic_arn,
            certificate_arn=certificate_arn,
            domain_name=cfg.domain_name,
        ),
    )
    if domain is not None:
        if compute.alias_target is None:
            raise ValueError(f"the {cfg.compute} shape gave no endpoint for domainName")
        DomainAlias("domain-alias", DomainAliasArgs(domain=domain, target=compute.alias_target))
    dashboard = Dashboard(
        "dashboard",
        DashboardArgs(
            stack=cfg.stack,
            region=cfg.region,
            alarm_sets=(compute.alarms, monitoring.alarms),
        ),
    )
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
    exports.update(compute.exports)
    if domain is not None:
        exports["url"] = pulumi.Output.from_input(f"https://{domain.domain_name}")
    if shared.access_logs is not None:
        exports["accessLogBucket"] = shared.access_logs.bucket_name
    if shared.identity is not None:
        # Where callers get tokens; the client secret is only in SSM (INVARIANT B7).
        exports["authTokenUrl"] = shared.identity.token_url
        exports["authClientId"] = shared.identity.client_id
        exports["authClientSecretParameter"] = pulumi.Output.from_input(
            shared.identity.client_secret_parameter_name
        )
    exports["alarmTopicArn"] = monitoring.topic_arn
    exports["dashboardName"] = dashboard.dashboard_name
    return exports
