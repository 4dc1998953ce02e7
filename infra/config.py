"""Typed, validated stack configuration.

``StackConfig.load()`` reads ``pulumi.Config`` once; ``StackConfig.from_values``
does the same work from a plain mapping so every rule is unit-testable without
the Pulumi runtime. Every error is a ``ConfigError`` naming the key, the value
and what is allowed.

``CONFIG_KEYS`` is the single list of project keys: ``Pulumi.yaml`` declares the
same keys with the same types, descriptions and defaults (a test compares them).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal, TypeAlias, cast

from infra.documents import elb_logs, identity, restore
from infra.documents.aws_limits import DB_MONITORING_INTERVALS as DB_MONITORING_INTERVALS
from infra.documents.aws_limits import FARGATE_PAIRS as FARGATE_PAIRS
from infra.documents.aws_limits import LOG_RETENTION_DAYS as LOG_RETENTION_DAYS
from infra.documents.naming import PROJECT

Compute: TypeAlias = Literal["fargate", "lambda"]
NatStrategy: TypeAlias = Literal["single", "per-az", "none"]
CpuArchitecture: TypeAlias = Literal["x86_64", "arm64"]
AuthTokenStrategy: TypeAlias = Literal["ROTATE", "SET"]
# DELETE (dropping AUTH for RBAC) is not offered: the service always sends a token.
AUTH_TOKEN_STRATEGIES: Final = ("ROTATE", "SET")
ConfigValue: TypeAlias = str | int | bool


class ConfigError(ValueError):
    """A configuration value was missing, malformed or out of range."""


@dataclass(frozen=True)
class KeySpec:
    """One project config key: its camelCase name, type, default and meaning."""

    name: str
    kind: type[str] | type[int] | type[bool]
    default: ConfigValue
    description: str

    @property
    def schema_type(self) -> str:
        """The ``type`` Pulumi.yaml's config schema uses for this key."""
        return {str: "string", int: "integer", bool: "boolean"}[self.kind]


CONFIG_KEYS: Final[tuple[KeySpec, ...]] = (
    # Shape and environment.
    KeySpec("compute", str, "fargate", "Compute shape: fargate (ECS behind an ALB) or lambda."),
    KeySpec("production", bool, False, "Production stack: turns on the prod-only safety rules."),
    # Network.
    KeySpec("azCount", int, 2, "Availability zones to spread subnets across (2-3)."),
    KeySpec("vpcCidr", str, "10.10.0.0/16", "IPv4 CIDR of the VPC (prefix /16 to /24)."),
    KeySpec("natStrategy", str, "single", "NAT gateways: single, per-az or none."),
    KeySpec("vpcEndpoints", bool, False, "Create VPC endpoints (required when natStrategy=none)."),
    KeySpec("flowLogs", bool, False, "Send VPC flow logs to CloudWatch Logs."),
    KeySpec("cpuArchitecture", str, "x86_64", "CPU architecture of image and compute."),
    KeySpec("logRetentionDays", int, 14, "CloudWatch Logs retention in days (an allowed value)."),
    KeySpec("protectData", bool, False, "Pulumi protect=True on the database and the cache."),
    # Database.
    KeySpec("dbInstanceClass", str, "db.t4g.micro", "RDS instance class."),
    KeySpec("dbAllocatedStorageGb", int, 20, "RDS allocated storage in GiB (20-65536)."),
    KeySpec("dbMaxAllocatedStorageGb", int, 100, "RDS storage autoscaling ceiling in GiB."),
    KeySpec("dbEngineVersion", str, "16", "PostgreSQL major version (pinned)."),
    KeySpec("dbMultiAz", bool, False, "RDS Multi-AZ deployment."),
    KeySpec("dbBackupRetentionDays", int, 1, "RDS automated backup retention (1-35 days)."),
    KeySpec("dbDeletionProtection", bool, False, "RDS deletion protection."),
    KeySpec("dbSkipFinalSnapshot", bool, True, "Skip the final snapshot when the DB is deleted."),
    KeySpec("dbPerformanceInsights", bool, False, "RDS Performance Insights (7 days, free tier)."),
    KeySpec(
        "dbMonitoringIntervalSeconds",
        int,
        0,
        "RDS Enhanced Monitoring interval: 0 (off), 1, 5, 10, 15, 30 or 60 s.",
    ),
    KeySpec(
        "dbLogMinDurationMs",
        int,
        1000,
        "PostgreSQL log_min_duration_statement in ms (-1 turns slow-query logging off).",
    ),
    # Restore into a new instance, in steps (docs/runbook.md, "Restore").
    KeySpec(
        "dbRestoreSource",
        str,
        "",
        "Restore into a new RDS instance: snapshot:NAME, time:UTC or time:latest.",
    ),
    KeySpec("dbServing", str, "primary", "RDS instance the service uses: primary or restored."),
    KeySpec("dbPrimaryRetired", bool, False, "Delete the primary RDS instance (serving restored)."),
    # Cache.
    KeySpec("cacheNodeType", str, "cache.t4g.micro", "ElastiCache node type."),
    KeySpec("cacheNodeCount", int, 1, "ElastiCache nodes (primary + replicas, 1-6)."),
    KeySpec("cacheEngineVersion", str, "7.1", "Redis engine version (pinned)."),
    KeySpec("cacheSnapshotRetentionDays", int, 0, "ElastiCache snapshot retention (0-35 days)."),
    # Secret rotation (docs/runbook.md, "Lifecycle"): bumping a revision generates a new value.
    KeySpec("databasePasswordRevision", int, 1, "Bump to rotate the database password."),
    KeySpec("cacheAuthTokenRevision", int, 1, "Bump to rotate the Redis AUTH token (two steps)."),
    KeySpec("apiTokenRevision", int, 1, "Bump to rotate the API bearer token."),
    KeySpec(
        "cacheAuthTokenUpdateStrategy",
        str,
        "ROTATE",
        "Redis AUTH change: ROTATE (old token kept) or SET (old token dropped).",
    ),
    # Service settings passed to the application.
    KeySpec("logLevel", str, "INFO", "Service LOG_LEVEL."),
    KeySpec("corsOrigins", str, "", "Service CORS_ORIGINS: comma-separated http(s) origins."),
    KeySpec("cacheTtlSeconds", int, 60, "Service CACHE_TTL_SECONDS."),
    KeySpec(
        "sentryDsn",
        str,
        "",
        "Service SENTRY_DSN, stored in SSM (set it with --secret); empty: no error tracking.",
    ),
    # Who may write (infra/documents/identity.py, docs/contracts.md "Authentication").
    KeySpec("authMode", str, "token", "Service AUTH_MODE: token (API_TOKEN) or jwt."),
    KeySpec("authCognito", bool, False, "authMode=jwt: a Cognito user pool as the issuer."),
    KeySpec("authIssuer", str, "", "authMode=jwt without Cognito: the issuer's https URL."),
    KeySpec("authAudience", str, "", "With authIssuer: the aud or client_id tokens carry."),
    KeySpec("authWriteScope", str, "items:write", "The OAuth scope a token needs to write."),
    # Fargate shape.
    KeySpec("taskCpu", int, 256, "Fargate task CPU units (a valid Fargate cpu/memory pair)."),
    KeySpec("taskMemory", int, 512, "Fargate task memory in MiB (a valid Fargate pair)."),
    KeySpec("desiredCount", int, 1, "ECS service desired task count."),
    KeySpec("minCount", int, 1, "Autoscaling minimum task count."),
    KeySpec("maxCount", int, 2, "Autoscaling maximum task count."),
    KeySpec("containerInsights", bool, False, "ECS Container Insights on the cluster."),
    KeySpec(
        "certificateArn", str, "", "ACM certificate ARN for the HTTPS listener, in aws:region."
    ),
    KeySpec("allowHttp", bool, False, "Serve plain HTTP when there is no certificate."),
    KeySpec("albAccessLogs", bool, False, "ALB access logs to an S3 bucket the stack creates."),
    KeySpec(
        "albDeletionProtection",
        bool,
        False,
        "ALB deletion protection (lift it before a compute switch or teardown).",
    ),
    KeySpec("cpuTargetPercent", int, 60, "Autoscaling target CPU utilisation (10-90 %)."),
    KeySpec("requestsPerTarget", int, 500, "Autoscaling target ALB requests per task."),
    KeySpec("healthCheckGraceSeconds", int, 60, "ECS health check grace period (0-3600 s)."),
    # Lambda shape.
    KeySpec("lambdaMemoryMb", int, 1024, "Lambda memory in MB (128-10240)."),
    KeySpec("lambdaTimeoutSeconds", int, 20, "Lambda timeout (1-29 s, under the API's 30 s)."),
    KeySpec("lambdaReservedConcurrency", int, -1, "Lambda reserved concurrency (-1 = none)."),
    KeySpec("apiThrottleRate", int, 50, "HTTP API stage steady-state requests per second."),
    KeySpec("apiThrottleBurst", int, 100, "HTTP API stage burst limit."),
    # Custom domain (both or neither).
    KeySpec("domainName", str, "", "Custom domain of the service (needs hostedZoneId), or empty."),
    KeySpec("hostedZoneId", str, "", "Route 53 hosted zone id of domainName, or empty."),
    # Alarms and their thresholds.
    KeySpec("alarmEmail", str, "", "E-mail address subscribed to the alarm topic, or empty."),
    KeySpec("alarm5xxRatePercent", int, 5, "Alarm: server errors above this % of requests."),
    KeySpec("alarmLatencyP99Ms", int, 2000, "Alarm: ALB target p99 latency above this (ms)."),
    KeySpec("alarmCpuPercent", int, 80, "Alarm: ECS service or RDS CPU above this %."),
    KeySpec("alarmMemoryPercent", int, 80, "Alarm: ECS service memory above this %."),
    KeySpec("alarmThrottles", int, 1, "Alarm: Lambda throttles per 5 minutes at or above this."),
    KeySpec("alarmDbFreeStorageGb", int, 5, "Alarm: RDS free storage below this (GiB)."),
    KeySpec("alarmDbConnections", int, 80, "Alarm: RDS connections above this count."),
    KeySpec("alarmCacheMemoryPercent", int, 80, "Alarm: Redis memory use above this %."),
    KeySpec("alarmCacheEvictions", int, 100, "Alarm: Redis evictions per 5 minutes above this."),
)

_SPECS: Final = {spec.name: spec for spec in CONFIG_KEYS}

# Provider keys read from the ``aws`` namespace.
REGION_KEY: Final = "aws:region"
ALLOWED_ACCOUNTS_KEY: Final = "aws:allowedAccountIds"

POSTGRES_MAJOR_VERSIONS: Final = ("13", "14", "15", "16", "17")
# A production stack logs every statement slower than this at most (ms).
PROD_MAX_LOG_MIN_DURATION_MS: Final = 1000
REDIS_ENGINE_VERSIONS: Final = ("6.2", "7.0", "7.1")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_DB_CLASS = re.compile(r"^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_CACHE_NODE = re.compile(r"^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_STACK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
# A lowercase DNS name of two or more labels, no wildcard, no trailing dot.
_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HOSTED_ZONE = re.compile(r"^Z[A-Z0-9]{1,31}$")
_SENTRY_DSN = re.compile(r"^https://[A-Za-z0-9]+@[A-Za-z0-9.-]+(:\d{1,5})?(/[\w.-]+)*/\d+/?$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,63}$")


def _fail(key: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"config key {key!r} has invalid value {value!r}: {allowed}")


def _coerce(spec: KeySpec, raw: object) -> ConfigValue:
    """Turn a config value (Pulumi hands every value over as a string) into its type."""
    if spec.kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise _fail(spec.name, raw, "expected a boolean (true or false)")
    if spec.kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
            return int(raw)
        raise _fail(spec.name, raw, "expected an integer")
    if isinstance(raw, str):
        return raw.strip()
    raise _fail(spec.name, raw, "expected a string")


def _account_ids(raw: object) -> tuple[str, ...]:
    """Parse ``aws:allowedAccountIds`` (a list, or its JSON text as Pulumi passes it)."""
    if raw is None or raw == "":
        return ()
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _fail(ALLOWED_ACCOUNTS_KEY, raw, "expected a list of 12-digit ids") from exc
    if not isinstance(value, list) or not value:
        raise _fail(ALLOWED_ACCOUNTS_KEY, raw, "expected a non-empty list of 12-digit ids")
    ids = tuple(str(item) for item in value)
    for account in ids:
        if not _ACCOUNT.fullmatch(account):
            raise _fail(ALLOWED_ACCOUNTS_KEY, account, "each account id must be 12 digits")
    return ids


def _one_of(key: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise _fail(key, value, "allowed: " + ", ".join(str(item) for item in allowed))


def _between(key: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise _fail(key, value, f"allowed: an integer from {low} to {high}")


def _check_stack_name(stack: str) -> None:
    """The stack name goes into physical names and SSM paths: keep it to a safe charset."""
    if not _STACK.fullmatch(stack):
        raise _fail("stack", stack, "letters, digits, '.', '_' or '-', at most 64")


def _check_known_keys(values: Mapping[str, object]) -> None:
    """Refuse keys that are neither project keys nor the provider keys read here."""
    unknown = sorted(key for key in values if key not in _SPECS and key not in _PROVIDER_KEYS)
    if unknown:
        raise ConfigError(
            "unknown config key(s) "
            + ", ".join(f"{key!r} (value {values[key]!r})" for key in unknown)
            + ": allowed keys are "
            + ", ".join(spec.name for spec in CONFIG_KEYS)
            + f", {REGION_KEY}, {ALLOWED_ACCOUNTS_KEY}"
        )


def _region(values: Mapping[str, object]) -> str:
    """``aws:region``, which has no default: the stack file must set it."""
    region = values.get(REGION_KEY)
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise _fail(REGION_KEY, region, "set it in Pulumi.<stack>.yaml, e.g. eu-west-1")
    return region


def _cors_origins(text: str) -> tuple[str, ...]:
    """The comma-separated ``corsOrigins``, blanks dropped (checked in ``_validate``)."""
    return tuple(origin.strip() for origin in text.split(",") if origin.strip())


class _TypedValues:
    """Every project key's value in its declared type: the given one coerced, or the default."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self._typed = {
            spec.name: _coerce(spec, values[spec.name]) if spec.name in values else spec.default
            for spec in CONFIG_KEYS
        }

    # _coerce has already given every value its declared type: the casts hold.
    def text(self, key: str) -> str:
        """A string key's value."""
        return cast(str, self._typed[key])

    def number(self, key: str) -> int:
        """An integer key's value."""
        return cast(int, self._typed[key])

    def flag(self, key: str) -> bool:
        """A boolean key's value."""
        return cast(bool, self._typed[key])


@dataclass(frozen=True)
class StackConfig:
    """Every setting of one stack, typed and validated; build with ``load``/``from_values``."""

    stack: str
    region: str
    allowed_account_ids: tuple[str, ...]
    compute: Compute
    production: bool
    az_count: int
    vpc_cidr: str
    nat_strategy: NatStrategy
    vpc_endpoints: bool
    flow_logs: bool
    cpu_architecture: CpuArchitecture
    log_retention_days: int
    protect_data: bool
    db_instance_class: str
    db_allocated_storage_gb: int
    db_max_allocated_storage_gb: int
    db_engine_version: str
    db_multi_az: bool
    db_backup_retention_days: int
    db_deletion_protection: bool
    db_skip_final_snapshot: bool
    db_performance_insights: bool
    db_monitoring_interval_seconds: int
    db_log_min_duration_ms: int
    db_restore_source: str
    db_serving: str
    db_primary_retired: bool
    cache_node_type: str
    cache_node_count: int
    cache_engine_version: str
    cache_snapshot_retention_days: int
    database_password_revision: int
    cache_auth_token_revision: int
    api_token_revision: int
    cache_auth_token_update_strategy: AuthTokenStrategy
    log_level: str
    cors_origins: tuple[str, ...]
    cache_ttl_seconds: int
    # A credential (it lets anyone send events): kept out of repr.
    sentry_dsn: str = field(repr=False)
    auth: identity.AuthConfig
    task_cpu: int
    task_memory: int
    desired_count: int
    min_count: int
    max_count: int
    container_insights: bool
    certificate_arn: str
    allow_http: bool
    alb_access_logs: bool
    alb_deletion_protection: bool
    cpu_target_percent: int
    requests_per_target: int
    health_check_grace_seconds: int
    lambda_memory_mb: int
    lambda_timeout_seconds: int
    lambda_reserved_concurrency: int
    api_throttle_rate: int
    api_throttle_burst: int
    domain_name: str
    hosted_zone_id: str
    alarm_email: str
    alarm_5xx_rate_percent: int
    alarm_latency_p99_ms: int
    alarm_cpu_percent: int
    alarm_memory_percent: int
    alarm_throttles: int
    alarm_db_free_storage_gb: int
    alarm_db_connections: int
    alarm_cache_memory_percent: int
    alarm_cache_evictions: int

    # ----------------------------------------------------------------- loading

    @classmethod
    def load(cls) -> StackConfig:
        """Read and validate the current stack's config (call once, in ``__main__``)."""
        import pulumi
        from pulumi.runtime import config as runtime_config

        project = pulumi.Config(PROJECT)
        values: dict[str, object] = {}
        for spec in CONFIG_KEYS:
            raw = project.get(spec.name)
            if raw is not None:
                values[spec.name] = raw
        # A misspelt key would otherwise fall back to its default without a word.
        present = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
        for full_key, raw_value in present.items():
            namespace, _, key = full_key.partition(":")
            if namespace == PROJECT and key not in _SPECS:
                values[key] = raw_value
        aws = pulumi.Config("aws")
        for provider_key in (REGION_KEY, ALLOWED_ACCOUNTS_KEY):
            raw = aws.get(provider_key.partition(":")[2])
            if raw is not None:
                values[provider_key] = raw
        return cls.from_values(pulumi.get_stack(), values)

    @classmethod
    def from_values(cls, stack: str, values: Mapping[str, object]) -> StackConfig:
        """Build from camelCase project keys plus ``aws:region``/``aws:allowedAccountIds``.

        The checks run in a fixed order, so a config with several faults always
        reports the same one: the stack name, unknown keys, each value's type
        (in ``CONFIG_KEYS`` order), the region, the account ids, then the rules
        of :meth:`_validate`.
        """
        _check_stack_name(stack)
        _check_known_keys(values)
        typed = _TypedValues(values)
        region = _region(values)
        account_ids = _account_ids(values.get(ALLOWED_ACCOUNTS_KEY))
        config = cls._from_typed(stack, region, account_ids, typed)
        config._validate()
        return config

    @classmethod
    def _from_typed(
        cls, stack: str, region: str, account_ids: tuple[str, ...], typed: _TypedValues
    ) -> StackConfig:
        """The fields from the typed values: one line per key, the few normalisations inline."""
        return cls(
            stack=stack,
            region=region,
            allowed_account_ids=account_ids,
            compute=typed.text("compute"),  # type: ignore[arg-type]  # checked in _validate
            production=typed.flag("production"),
            az_count=typed.number("azCount"),
            vpc_cidr=typed.text("vpcCidr"),
            nat_strategy=typed.text("natStrategy"),  # type: ignore[arg-type]  # checked in _validate
            vpc_endpoints=typed.flag("vpcEndpoints"),
            flow_logs=typed.flag("flowLogs"),
            cpu_architecture=typed.text("cpuArchitecture"),  # type: ignore[arg-type]  # checked in _validate
            log_retention_days=typed.number("logRetentionDays"),
            protect_data=typed.flag("protectData"),
            db_instance_class=typed.text("dbInstanceClass"),
            db_allocated_storage_gb=typed.number("dbAllocatedStorageGb"),
            db_max_allocated_storage_gb=typed.number("dbMaxAllocatedStorageGb"),
            db_engine_version=typed.text("dbEngineVersion"),
            db_multi_az=typed.flag("dbMultiAz"),
            db_backup_retention_days=typed.number("dbBackupRetentionDays"),
            db_deletion_protection=typed.flag("dbDeletionProtection"),
            db_skip_final_snapshot=typed.flag("dbSkipFinalSnapshot"),
            db_performance_insights=typed.flag("dbPerformanceInsights"),
            db_monitoring_interval_seconds=typed.number("dbMonitoringIntervalSeconds"),
            db_log_min_duration_ms=typed.number("dbLogMinDurationMs"),
            db_restore_source=typed.text("dbRestoreSource"),
            db_serving=typed.text("dbServing"),
            db_primary_retired=typed.flag("dbPrimaryRetired"),
            cache_node_type=typed.text("cacheNodeType"),
            cache_node_count=typed.number("cacheNodeCount"),
            cache_engine_version=typed.text("cacheEngineVersion"),
            cache_snapshot_retention_days=typed.number("cacheSnapshotRetentionDays"),
            database_password_revision=typed.number("databasePasswordRevision"),
            cache_auth_token_revision=typed.number("cacheAuthTokenRevision"),
            api_token_revision=typed.number("apiTokenRevision"),
            cache_auth_token_update_strategy=typed.text(  # type: ignore[arg-type]  # checked in _validate
                "cacheAuthTokenUpdateStrategy"
            ).upper(),
            log_level=typed.text("logLevel").upper(),
            cors_origins=_cors_origins(typed.text("corsOrigins")),
            cache_ttl_seconds=typed.number("cacheTtlSeconds"),
            sentry_dsn=typed.text("sentryDsn"),
            auth=identity.AuthConfig.from_values(typed.text, typed.flag),
            task_cpu=typed.number("taskCpu"),
            task_memory=typed.number("taskMemory"),
            desired_count=typed.number("desiredCount"),
            min_count=typed.number("minCount"),
            max_count=typed.number("maxCount"),
            container_insights=typed.flag("containerInsights"),
            certificate_arn=typed.text("certificateArn"),
            allow_http=typed.flag("allowHttp"),
            alb_access_logs=typed.flag("albAccessLogs"),
            alb_deletion_protection=typed.flag("albDeletionProtection"),
            cpu_target_percent=typed.number("cpuTargetPercent"),
            requests_per_target=typed.number("requestsPerTarget"),
            health_check_grace_seconds=typed.number("healthCheckGraceSeconds"),
            lambda_memory_mb=typed.number("lambdaMemoryMb"),
            lambda_timeout_seconds=typed.number("lambdaTimeoutSeconds"),
            lambda_reserved_concurrency=typed.number("lambdaReservedConcurrency"),
            api_throttle_rate=typed.number("apiThrottleRate"),
            api_throttle_burst=typed.number("apiThrottleBurst"),
            domain_name=typed.text("domainName").lower(),
            hosted_zone_id=typed.text("hostedZoneId"),
            alarm_email=typed.text("alarmEmail"),
            alarm_5xx_rate_percent=typed.number("alarm5xxRatePercent"),
            alarm_latency_p99_ms=typed.number("alarmLatencyP99Ms"),
            alarm_cpu_percent=typed.number("alarmCpuPercent"),
            alarm_memory_percent=typed.number("alarmMemoryPercent"),
            alarm_throttles=typed.number("alarmThrottles"),
            alarm_db_free_storage_gb=typed.number("alarmDbFreeStorageGb"),
            alarm_db_connections=typed.number("alarmDbConnections"),
            alarm_cache_memory_percent=typed.number("alarmCacheMemoryPercent"),
            alarm_cache_evictions=typed.number("alarmCacheEvictions"),
        )

    # -------------------------------------------------------------- validation

    def _validate(self) -> None:
        self._validate_shape_and_network()
        self._validate_data()
        self._validate_service()
        self._validate_compute()
        self._validate_operations()
        if self.production:
            self._validate_production()

    def _validate_shape_and_network(self) -> None:
        _one_of("compute", self.compute, ("fargate", "lambda"))
        _between("azCount", self.az_count, 2, 3)
        try:
            network = ipaddress.ip_network(self.vpc_cidr, strict=True)
        except ValueError as exc:
            raise _fail("vpcCidr", self.vpc_cidr, "an IPv4 network such as 10.10.0.0/16") from exc
        if network.version != 4 or not 16 <= network.prefixlen <= 24 or not network.is_private:
            raise _fail("vpcCidr", self.vpc_cidr, "a private IPv4 network, prefix /16 to /24")
        _one_of("natStrategy", self.nat_strategy, ("single", "per-az", "none"))
        if self.nat_strategy == "none" and not self.vpc_endpoints:
            raise _fail(
                "vpcEndpoints",
                self.vpc_endpoints,
                "must be true when natStrategy is 'none' (private subnets need a way to "
                "reach ECR, CloudWatch Logs and SSM)",
            )
        _one_of("cpuArchitecture", self.cpu_architecture, ("x86_64", "arm64"))
        _one_of("logRetentionDays", self.log_retention_days, LOG_RETENTION_DAYS)

    def _validate_data(self) -> None:
        if not _DB_CLASS.fullmatch(self.db_instance_class):
            raise _fail("dbInstanceClass", self.db_instance_class, "like db.t4g.micro")
        _between("dbAllocatedStorageGb", self.db_allocated_storage_gb, 20, 65536)
        if not self.db_allocated_storage_gb <= self.db_max_allocated_storage_gb <= 65536:
            raise _fail(
                "dbMaxAllocatedStorageGb",
                self.db_max_allocated_storage_gb,
                f"from dbAllocatedStorageGb ({self.db_allocated_storage_gb}) to 65536",
            )
        _one_of("dbEngineVersion", self.db_engine_version, POSTGRES_MAJOR_VERSIONS)
        _between("dbBackupRetentionDays", self.db_backup_retention_days, 1, 35)
        _one_of(
            "dbMonitoringIntervalSeconds",
            self.db_monitoring_interval_seconds,
            DB_MONITORING_INTERVALS,
        )
        # PostgreSQL's own range for log_min_duration_statement (ms), capped at an hour.
        _between("dbLogMinDurationMs", self.db_log_min_duration_ms, -1, 3_600_000)
        self._validate_restore()
        if not _CACHE_NODE.fullmatch(self.cache_node_type):
            raise _fail("cacheNodeType", self.cache_node_type, "like cache.t4g.micro")
        _between("cacheNodeCount", self.cache_node_count, 1, 6)
        _one_of("cacheEngineVersion", self.cache_engine_version, REDIS_ENGINE_VERSIONS)
        _between("cacheSnapshotRetentionDays", self.cache_snapshot_retention_days, 0, 35)
        for key, revision in (
            ("databasePasswordRevision", self.database_password_revision),
            ("cacheAuthTokenRevision", self.cache_auth_token_revision),
            ("apiTokenRevision", self.api_token_revision),
        ):
            _between(key, revision, 1, 1_000_000)
        _one_of(
            "cacheAuthTokenUpdateStrategy",
            self.cache_auth_token_update_strategy,
            AUTH_TOKEN_STRATEGIES,
        )

    def _validate_restore(self) -> None:
        """The restore keys: well-formed, and each step after the one it needs."""
        try:
            restore.check(
                self.db_restore_source, self.db_serving, self.db_primary_retired, self.region
            )
        except restore.RestoreError as error:
            raise _fail(error.key, error.value, error.allowed) from error

    def _validate_service(self) -> None:
        _one_of("logLevel", self.log_level, LOG_LEVELS)
        for origin in self.cors_origins:
            if not _ORIGIN.fullmatch(origin):
                raise _fail("corsOrigins", origin, "comma-separated origins like https://a.b")
        _between("cacheTtlSeconds", self.cache_ttl_seconds, 1, 86400)
        if self.sentry_dsn and not _SENTRY_DSN.fullmatch(self.sentry_dsn):
            # Never echo the value: it is a credential.
            raise _fail("sentryDsn", "(hidden)", "a Sentry DSN https://<key>@<host>/<project id>")
        try:
            identity.check(self.auth, internet_egress=self.nat_strategy != "none")
        except identity.AuthConfigError as error:
            raise _fail(error.key, error.value, error.allowed) from error

    def _validate_compute(self) -> None:
        _one_of("taskCpu", self.task_cpu, tuple(FARGATE_PAIRS))
        memories = FARGATE_PAIRS[self.task_cpu]
        if self.task_memory not in memories:
            raise _fail(
                "taskMemory",
                self.task_memory,
                f"with taskCpu {self.task_cpu} allowed: {memories[0]}-{memories[-1]} "
                f"in steps of {memories[1] - memories[0]} MiB",
            )
        _between("minCount", self.min_count, 1, 100)
        _between("maxCount", self.max_count, self.min_count, 100)
        _between("desiredCount", self.desired_count, self.min_count, self.max_count)
        if self.certificate_arn and not _ACM_ARN.fullmatch(self.certificate_arn):
            raise _fail(
                "certificateArn",
                self.certificate_arn,
                "an ACM ARN arn:aws:acm:<region>:<account>:certificate/<id>, or empty",
            )
        if self.certificate_arn:
            # The ALB listener and the regional API Gateway domain only accept a
            # certificate from their own region (us-east-1 is for edge/CloudFront).
            certificate_region = self.certificate_arn.split(":")[3]
            if certificate_region != self.region:
                raise _fail(
                    "certificateArn",
                    self.certificate_arn,
                    f"the certificate is in region {certificate_region} but the stack "
                    f"deploys to {REGION_KEY} {self.region}; issue or import it in "
                    f"{self.region}",
                )
        _between("cpuTargetPercent", self.cpu_target_percent, 10, 90)
        _between("requestsPerTarget", self.requests_per_target, 1, 100000)
        _between("healthCheckGraceSeconds", self.health_check_grace_seconds, 0, 3600)
        _between("lambdaMemoryMb", self.lambda_memory_mb, 128, 10240)
        _between("lambdaTimeoutSeconds", self.lambda_timeout_seconds, 1, 29)
        if self.lambda_reserved_concurrency != -1 and self.lambda_reserved_concurrency < 1:
            raise _fail(
                "lambdaReservedConcurrency",
                self.lambda_reserved_concurrency,
                "-1 (unreserved) or a positive integer",
            )
        _between("apiThrottleRate", self.api_throttle_rate, 1, 10000)
        _between("apiThrottleBurst", self.api_throttle_burst, 1, 5000)

    def _validate_operations(self) -> None:
        """Custom domain (both keys or neither), alarm e-mail and alarm thresholds."""
        if bool(self.domain_name) != bool(self.hosted_zone_id):
            missing = "hostedZoneId" if self.domain_name else "domainName"
            raise _fail(
                missing,
                "",
                "domainName and hostedZoneId are set together (a custom domain) or both left empty",
            )
        if self.domain_name and not _HOSTNAME.fullmatch(self.domain_name):
            raise _fail(
                "domainName",
                self.domain_name,
                "a DNS name such as api.example.com (letters, digits, '-', no wildcard)",
            )
        if self.hosted_zone_id and not _HOSTED_ZONE.fullmatch(self.hosted_zone_id):
            raise _fail(
                "hostedZoneId",
                self.hosted_zone_id,
                "a Route 53 hosted zone id: 'Z' then uppercase letters and digits",
            )
        if self.alb_access_logs and self.region not in elb_logs.supported_regions():
            raise _fail(
                "albAccessLogs",
                self.alb_access_logs,
                f"no ALB log-delivery principal is known for {REGION_KEY} {self.region}; "
                "add the region to infra/documents/elb_logs.py",
            )
        if self.alarm_email and not _EMAIL.fullmatch(self.alarm_email):
            raise _fail("alarmEmail", self.alarm_email, "an e-mail address, or empty")
        _between("alarm5xxRatePercent", self.alarm_5xx_rate_percent, 1, 100)
        _between("alarmLatencyP99Ms", self.alarm_latency_p99_ms, 10, 60000)
        _between("alarmCpuPercent", self.alarm_cpu_percent, 10, 100)
        _between("alarmMemoryPercent", self.alarm_memory_percent, 10, 100)
        _between("alarmThrottles", self.alarm_throttles, 1, 1000000)
        _between("alarmDbFreeStorageGb", self.alarm_db_free_storage_gb, 1, 65536)
        if self.alarm_db_free_storage_gb >= self.db_allocated_storage_gb:
            raise _fail(
                "alarmDbFreeStorageGb",
                self.alarm_db_free_storage_gb,
                f"less than dbAllocatedStorageGb ({self.db_allocated_storage_gb}), "
                "or the alarm fires on an empty database",
            )
        _between("alarmDbConnections", self.alarm_db_connections, 1, 100000)
        _between("alarmCacheMemoryPercent", self.alarm_cache_memory_percent, 10, 100)
        _between("alarmCacheEvictions", self.alarm_cache_evictions, 0, 100000000)

    def _validate_production(self) -> None:
        """Rules that only apply when ``production`` is true (INVARIANTS B9, B13, C3-C5)."""
        if not self.allowed_account_ids:
            raise _fail(
                ALLOWED_ACCOUNTS_KEY,
                None,
                "a production stack must list the AWS account ids it may deploy to",
            )
        required: tuple[tuple[str, object, object], ...] = (
            ("dbMultiAz", self.db_multi_az, True),
            ("dbDeletionProtection", self.db_deletion_protection, True),
            ("dbSkipFinalSnapshot", self.db_skip_final_snapshot, False),
            ("protectData", self.protect_data, True),
            # Telemetry a production incident needs (INVARIANTS B18, B19).
            ("albAccessLogs", self.alb_access_logs, True),
            ("albDeletionProtection", self.alb_deletion_protection, True),
            ("dbPerformanceInsights", self.db_performance_insights, True),
        )
        for key, value, expected in required:
            if value != expected:
                raise _fail(key, value, f"a production stack requires {str(expected).lower()}")
        minimums = (
            ("dbBackupRetentionDays", self.db_backup_retention_days, 7),
            ("cacheNodeCount", self.cache_node_count, 2),
            ("cacheSnapshotRetentionDays", self.cache_snapshot_retention_days, 1),
            ("logRetentionDays", self.log_retention_days, 365),
            ("dbMonitoringIntervalSeconds", self.db_monitoring_interval_seconds, 1),
            ("dbLogMinDurationMs", self.db_log_min_duration_ms, 0),
        )
        for key, number, minimum in minimums:
            if number < minimum:
                raise _fail(key, number, f"a production stack requires at least {minimum}")
        if self.db_log_min_duration_ms > PROD_MAX_LOG_MIN_DURATION_MS:
            raise _fail(
                "dbLogMinDurationMs",
                self.db_log_min_duration_ms,
                f"a production stack logs statements slower than at most "
                f"{PROD_MAX_LOG_MIN_DURATION_MS} ms",
            )
        if not self.certificate_arn and not self.domain_name and not self.allow_http:
            raise _fail(
                "certificateArn",
                self.certificate_arn,
                "a production stack needs an ACM certificate ARN, or a domainName (with "
                "hostedZoneId) for a managed certificate, unless allowHttp is true",
            )

    # ------------------------------------------------------------- derivations

    @property
    def is_prod(self) -> bool:
        """Whether prod-only rules apply (the ``production`` key)."""
        return self.production

    @property
    def restore_source(self) -> restore.RestoreSource | None:
        """What the restored instance is created from (``dbRestoreSource``), or None."""
        return restore.parse_source(self.db_restore_source, self.region)

    @property
    def docker_platform(self) -> str:
        """The ``docker build --platform`` spelling of the CPU architecture."""
        return {"x86_64": "linux/amd64", "arm64": "linux/arm64"}[self.cpu_architecture]

    @property
    def ecs_cpu_architecture(self) -> str:
        """The ECS ``runtimePlatform.cpuArchitecture`` spelling (X86_64 or ARM64)."""
        return {"x86_64": "X86_64", "arm64": "ARM64"}[self.cpu_architecture]

    @property
    def lambda_architecture(self) -> str:
        """The Lambda ``architectures`` spelling (x86_64 or arm64)."""
        return self.cpu_architecture

    @property
    def image_target(self) -> str:
        """The Dockerfile target the compute shape runs."""
        return "service" if self.compute == "fargate" else "lambda"

    @property
    def service_environment(self) -> str:
        """The service's ``ENVIRONMENT`` value (docs/contracts.md)."""
        return "production" if self.production else "staging"

    @property
    def custom_domain(self) -> bool:
        """Whether the stack serves on its own domain (``domainName`` + ``hostedZoneId``)."""
        return bool(self.domain_name)

    @property
    def managed_certificate(self) -> bool:
        """Whether the program issues the domain's ACM certificate (no ``certificateArn``)."""
        return self.custom_domain and not self.certificate_arn

    @property
    def ssm_prefix(self) -> str:
        """Where this stack's SSM parameters live."""
        return f"/{PROJECT}/{self.stack}"

    @property
    def tags(self) -> dict[str, str]:
        """Tags every taggable resource carries (INVARIANT C7)."""
        return {"project": PROJECT, "stack": self.stack, "compute": self.compute}

    def as_dict(self) -> dict[str, Any]:
        """Plain field dictionary (for tests and debugging; holds no secret)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


_PROVIDER_KEYS: Final = (REGION_KEY, ALLOWED_ACCOUNTS_KEY)
