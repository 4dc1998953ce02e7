"""What the Fargate shape is built from: its stack settings and the shared layers' values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from infra.components.access_logs import AccessLogBucket
from infra.components.monitoring import ComputeOperations
from infra.config import StackConfig
from infra.documents import restore


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
    cache_database: int = 0
    """The Redis database in REDIS_URL: another one serving a restored database."""

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
            cache_database=restore.cache_database(cfg.db_serving),
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
    auth_environment: pulumi.Input[Mapping[str, str]] | None = None
    """AUTH_* settings with ``authMode: jwt`` (infra/components/identity.py); none: token mode."""
    release: pulumi.Input[str] | None = None
    """The image tag, as RELEASE, when error tracking is on (none: no RELEASE)."""
