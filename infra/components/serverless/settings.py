"""What the Lambda shape is given: its validated settings and its inputs from the shared layers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from infra.components.monitoring import ComputeOperations
from infra.config import StackConfig
from infra.documents import restore
from infra.documents import serverless as ld


@dataclass(frozen=True)
class ServerlessSettings:
    """The stack settings the Lambda shape reads, taken from ``StackConfig``."""

    stack: str
    production: bool
    cpu_architecture: str
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    throttle_rate: int
    throttle_burst: int
    log_retention_days: int
    log_level: str
    cors_origins: tuple[str, ...]
    cache_ttl_seconds: int
    tags: Mapping[str, str] = field(default_factory=dict)
    cache_database: int = 0
    """The Redis database in REDIS_URL: another one serving a restored database."""

    def __post_init__(self) -> None:
        """Refuse values Lambda or the HTTP API would reject or time out on."""
        if self.cpu_architecture not in ("x86_64", "arm64"):
            raise ValueError(
                f"config key 'cpuArchitecture' is {self.cpu_architecture!r}: allowed x86_64, arm64"
            )
        if not 1 <= self.timeout_seconds <= ld.MAX_FUNCTION_TIMEOUT_SECONDS:
            raise ValueError(
                f"config key 'lambdaTimeoutSeconds' is {self.timeout_seconds}: allowed 1 to "
                f"{ld.MAX_FUNCTION_TIMEOUT_SECONDS}, under the HTTP API's "
                f"{ld.API_INTEGRATION_TIMEOUT_MS // 1000} s integration limit"
            )
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(
                f"config key 'lambdaMemoryMb' is {self.memory_mb}: allowed 128 to 10240"
            )
        if self.reserved_concurrency != -1 and self.reserved_concurrency < 1:
            raise ValueError(
                f"config key 'lambdaReservedConcurrency' is {self.reserved_concurrency}: "
                "allowed -1 (unreserved) or a positive integer"
            )

    @classmethod
    def from_config(cls, cfg: StackConfig) -> ServerlessSettings:
        """Pick the Lambda keys out of the validated stack configuration."""
        return cls(
            stack=cfg.stack,
            production=cfg.production,
            cpu_architecture=cfg.lambda_architecture,
            memory_mb=cfg.lambda_memory_mb,
            timeout_seconds=cfg.lambda_timeout_seconds,
            reserved_concurrency=cfg.lambda_reserved_concurrency,
            throttle_rate=cfg.api_throttle_rate,
            throttle_burst=cfg.api_throttle_burst,
            log_retention_days=cfg.log_retention_days,
            log_level=cfg.log_level,
            cors_origins=cfg.cors_origins,
            cache_ttl_seconds=cfg.cache_ttl_seconds,
            tags=cfg.tags,
            cache_database=restore.cache_database(cfg.db_serving),
        )


@dataclass(frozen=True)
class ServerlessServiceArgs:
    """What the Lambda shape needs from the shared layers, plus its settings."""

    settings: ServerlessSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    image: pulumi.Input[str]
    """Image reference pinned by digest (``repo@sha256:…``) of the ``lambda`` target."""
    secret_parameter_names: Mapping[str, str]
    """Environment variable name → SSM SecureString parameter name."""
    secret_parameter_arns: Mapping[str, pulumi.Input[str]]
    """Environment variable name → SSM SecureString parameter ARN."""
    database_password: pulumi.Input[str]
    """The database password (a secret Output): only the proxy's credentials secret holds it."""
    database_instance_arn: pulumi.Input[str]
    database_security_group_id: pulumi.Input[str]
    cache_endpoint: pulumi.Input[str]
    cache_security_group_id: pulumi.Input[str]
    operations: ComputeOperations
    """Alarm topic and thresholds; the custom domain and its certificate, if any."""
    config_revision: pulumi.Input[str] = "1"
    """The secrets' SSM versions (``CONFIG_REVISION``): a rotation publishes a new version."""
    database_target_moves: bool = False
    """A restored instance exists: the proxy's target may move to it (freed first)."""
    auth_environment: pulumi.Input[Mapping[str, str]] | None = None
    """AUTH_* settings with ``authMode: jwt`` (infra/components/identity.py); none: token mode."""
    release: pulumi.Input[str] | None = None
    """The image tag, as RELEASE, when error tracking is on (none: no RELEASE)."""
