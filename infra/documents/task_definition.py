"""The Fargate task as data: container definitions, task settings and IAM documents.

Everything here is a pure function of plain values, so tests can check the
documents (against botocore's ECS model, against the service's ``Settings``)
without the Pulumi runtime. ``infra.components.fargate`` feeds these values to
the provider once the Outputs they depend on are known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from infra.documents import iam, identity

CONTAINER_NAME: Final = "app"
CONTAINER_PORT: Final = 8000
# The service's liveness route: it touches no dependency, so a slow database
# never gets healthy tasks killed (docs/contracts.md).
HEALTH_CHECK_PATH: Final = "/health"
# `python -m service serve` migrates under the advisory lock, then starts
# uvicorn: the port only opens once the schema is at head.
CONTAINER_COMMAND: Final = ("python", "-m", "service", "serve")
# A numeric uid:gid so ECS can enforce "not root" without the image's
# /etc/passwd; the Dockerfile's USER uses the same ids.
CONTAINER_USER: Final = "10001:10001"
TMP_VOLUME: Final = "tmp"
TMP_PATH: Final = "/tmp"  # noqa: S108 - the task's own scratch volume, not a shared host /tmp
LOG_STREAM_PREFIX: Final = "app"
NETWORK_MODE: Final = "awsvpc"
REQUIRES_COMPATIBILITIES: Final = ("FARGATE",)
# ECS caps a container health check's start period at 300 s.
MAX_HEALTH_CHECK_START_PERIOD: Final = 300

# Secrets reach the container only as ECS `secrets[].valueFrom` (INVARIANT B7).
SECRET_VARIABLES: Final = ("API_TOKEN", "DATABASE_PASSWORD", "REDIS_PASSWORD")
# Secrets present only when the operator provides them (sentryDsn), by the same route.
OPTIONAL_SECRET_VARIABLES: Final = ("SENTRY_DSN",)

ECS_TASKS_PRINCIPAL: Final = "ecs-tasks.amazonaws.com"
EXECUTION_MANAGED_POLICY_ARN: Final = (
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
)

_ARCHITECTURES: Final = {"x86_64": "X86_64", "arm64": "ARM64"}
_DIGEST_PINNED = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
_SSM_PARAMETER_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[\w./-]+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$")
# Docker's tag grammar: what RELEASE carries.
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def ecs_cpu_architecture(cpu_architecture: str) -> str:
    """ECS ``runtimePlatform.cpuArchitecture`` for the stack's ``cpuArchitecture``."""
    try:
        return _ARCHITECTURES[cpu_architecture]
    except KeyError:
        allowed = ", ".join(sorted(_ARCHITECTURES))
        raise ValueError(
            f"cpuArchitecture must be one of {allowed}, got {cpu_architecture!r}"
        ) from None


def runtime_platform(cpu_architecture: str) -> dict[str, str]:
    """The task's ``runtimePlatform`` (RegisterTaskDefinition casing)."""
    return {
        "cpuArchitecture": ecs_cpu_architecture(cpu_architecture),
        "operatingSystemFamily": "LINUX",
    }


def database_url(address: str) -> str:
    """The service's ``DATABASE_URL``: no password (it arrives as DATABASE_PASSWORD), TLS on."""
    return f"postgresql+asyncpg://app@{address}:5432/app?ssl=require"


def redis_url(primary_endpoint: str, database: int = 0) -> str:
    """The service's ``REDIS_URL``: TLS (``rediss``), AUTH token sent separately.

    ``database`` is the logical database (``documents/restore.py``: another
    one after switching to a restored PostgreSQL instance).
    """
    return f"rediss://{primary_endpoint}:6379/{database}"


def service_environment(
    *,
    production: bool,
    database_address: str,
    redis_endpoint: str,
    log_level: str,
    cors_origins: Sequence[str],
    cache_ttl_seconds: int,
    config_revision: str,
    cache_database: int = 0,
    release: str | None = None,
    auth: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The non-secret settings of docs/contracts.md, as the container's environment.

    ``auth`` adds the AUTH_* settings of ``authMode: jwt`` (none in token mode,
    so a token-mode stack's task definition is what it always was).

    ``release`` (the image tag) becomes ``RELEASE`` only when given: with error
    tracking on, whose events it labels; without, the environment is unchanged.

    ``config_revision`` (the secrets' SSM versions, never their values) makes a
    rotated secret change the task definition, so ECS replaces the tasks that
    read the old value at start-up.
    """
    for what, host in (("database address", database_address), ("Redis endpoint", redis_endpoint)):
        # An unresolved or empty endpoint would otherwise end up as "None" in a URL.
        if not isinstance(host, str) or not _HOSTNAME.match(host):
            raise ValueError(f"the {what} must be a host name, got {host!r}")
    return {
        # Non-production stacks run "staging": the app still refuses default
        # secrets and SQLite there, which is the point of a dev stack on AWS.
        "ENVIRONMENT": "production" if production else "staging",
        "DATABASE_URL": database_url(database_address),
        "REDIS_URL": redis_url(redis_endpoint, cache_database),
        "LOG_LEVEL": log_level,
        "CORS_ORIGINS": ",".join(cors_origins),
        "CACHE_TTL_SECONDS": str(cache_ttl_seconds),
        "CONFIG_REVISION": config_revision,
        # The ALB appends the client's address to X-Forwarded-For: the rate limiter
        # keys on that last entry, never on one the client wrote (docs/contracts.md).
        "TRUSTED_PROXY_HOPS": "1",
        "HOST": "0.0.0.0",  # noqa: S104 - inside the task's own network namespace, behind the SG
        "PORT": str(CONTAINER_PORT),
        **release_environment(release),
        **identity.checked_environment(auth),
    }


def release_environment(release: str | None) -> dict[str, str]:
    """``{"RELEASE": release}``, or nothing without one; refuses what is no image tag."""
    if release is None:
        return {}
    if not _IMAGE_TAG.fullmatch(release):
        raise ValueError(f"the release must be an image tag, got {release!r}")
    return {"RELEASE": release}


@dataclass(frozen=True)
class ContainerSpec:
    """Everything the app container's definition depends on, resolved to plain values."""

    image: str
    """Image reference pinned by digest (``repo@sha256:…``)."""
    environment: Mapping[str, str]
    """Non-secret settings (see :func:`service_environment`)."""
    secret_parameter_arns: Mapping[str, str]
    """Environment variable name → SSM parameter ARN."""
    log_group_name: str
    region: str
    health_check_start_period: int = 60

    def __post_init__(self) -> None:
        """Refuse documents ECS would reject or that would leak a secret."""
        if not _DIGEST_PINNED.match(self.image):
            raise ValueError(f"the container image must be pinned by digest, got {self.image!r}")
        for name in [*self.environment, *self.secret_parameter_arns]:
            if not _ENV_NAME.match(name):
                raise ValueError(f"environment variable name {name!r} is not UPPER_SNAKE_CASE")
        leaked = sorted(set(SECRET_VARIABLES + OPTIONAL_SECRET_VARIABLES) & set(self.environment))
        if leaked:
            raise ValueError(
                f"{', '.join(leaked)} must come from SSM via secrets[].valueFrom, "
                "never from the plain environment"
            )
        both = sorted(set(self.environment) & set(self.secret_parameter_arns))
        if both:
            raise ValueError(f"{', '.join(both)} set both as environment and as a secret")
        for name, arn in self.secret_parameter_arns.items():
            if not _SSM_PARAMETER_ARN.match(arn):
                raise ValueError(f"secret {name} must reference an SSM parameter ARN, got {arn!r}")
        if not 0 <= self.health_check_start_period <= MAX_HEALTH_CHECK_START_PERIOD:
            raise ValueError(
                "health_check_start_period must be 0..300 seconds, "
                f"got {self.health_check_start_period}"
            )


def health_check_command() -> list[str]:
    """The container health check: GET /health on the container port.

    The image is python-slim without curl; ``urlopen`` raises (exit 1) on a
    refused connection, a timeout or a non-2xx status.
    """
    url = f"http://127.0.0.1:{CONTAINER_PORT}{HEALTH_CHECK_PATH}"
    return [
        "CMD",
        "python",
        "-c",
        f"import urllib.request; urllib.request.urlopen({url!r}, timeout=4)",
    ]


def container_definitions(spec: ContainerSpec) -> list[dict[str, Any]]:
    """The task's ``containerDefinitions`` document (RegisterTaskDefinition casing)."""
    return [
        {
            "name": CONTAINER_NAME,
            "image": spec.image,
            "essential": True,
            "command": list(CONTAINER_COMMAND),
            "portMappings": [
                {"containerPort": CONTAINER_PORT, "hostPort": CONTAINER_PORT, "protocol": "tcp"}
            ],
            # Sorted so an unchanged environment never shows as a diff.
            "environment": [
                {"name": name, "value": value} for name, value in sorted(spec.environment.items())
            ],
            "secrets": [
                {"name": name, "valueFrom": arn}
                for name, arn in sorted(spec.secret_parameter_arns.items())
            ],
            "user": CONTAINER_USER,
            "readonlyRootFilesystem": True,
            "mountPoints": [
                {"sourceVolume": TMP_VOLUME, "containerPath": TMP_PATH, "readOnly": False}
            ],
            "linuxParameters": {
                # tini as PID 1 forwards SIGTERM to uvicorn so draining is graceful.
                "initProcessEnabled": True,
                "capabilities": {"drop": ["ALL"]},
            },
            "healthCheck": {
                "command": health_check_command(),
                "interval": 15,
                "timeout": 5,
                "retries": 3,
                # Covers the migrations `serve` runs before uvicorn listens.
                "startPeriod": spec.health_check_start_period,
            },
            # ECS sends SIGTERM, waits this long, then SIGKILL; uvicorn drains in-flight
            # requests meanwhile. Matches the target group's deregistration delay.
            "stopTimeout": 30,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": spec.log_group_name,
                    "awslogs-region": spec.region,
                    "awslogs-stream-prefix": LOG_STREAM_PREFIX,
                    # A slow CloudWatch must never block the request path.
                    "mode": "non-blocking",
                    "max-buffer-size": "25m",
                },
            },
        }
    ]


def task_volumes() -> list[dict[str, Any]]:
    """The task's volumes: a writable scratch volume on the task's ephemeral storage."""
    return [{"name": TMP_VOLUME}]


def register_task_definition_request(
    *,
    family: str,
    spec: ContainerSpec,
    cpu: int,
    memory: int,
    cpu_architecture: str,
    execution_role_arn: str,
    task_role_arn: str,
) -> dict[str, Any]:
    """The whole ``RegisterTaskDefinition`` request the component's task definition amounts to."""
    return {
        "family": family,
        "containerDefinitions": container_definitions(spec),
        "cpu": str(cpu),
        "memory": str(memory),
        "networkMode": NETWORK_MODE,
        "requiresCompatibilities": list(REQUIRES_COMPATIBILITIES),
        "runtimePlatform": runtime_platform(cpu_architecture),
        "volumes": task_volumes(),
        "executionRoleArn": execution_role_arn,
        "taskRoleArn": task_role_arn,
    }


def ecs_tasks_trust_policy() -> iam.PolicyDocument:
    """Trust policy of both task roles: only ECS tasks may assume them (INVARIANT B11)."""
    return iam.assume_role_policy(ECS_TASKS_PRINCIPAL)


def execution_role_policy(
    parameter_arns: Sequence[str], kms_key_arns: Sequence[str] = ()
) -> iam.PolicyDocument:
    """Inline policy of the execution role on top of the managed execution policy.

    The managed policy covers ECR pulls and log writes; this adds reading
    exactly the app's SSM parameters (INVARIANT A6), and decrypting with the
    customer-managed KMS keys that encrypt them, if any. SecureStrings under
    the AWS-managed ``aws/ssm`` key need no KMS grant.
    """
    if not parameter_arns:
        raise ValueError("the execution role needs at least one SSM parameter ARN to read")
    for arn in parameter_arns:
        if not _SSM_PARAMETER_ARN.match(arn):
            raise ValueError(f"{arn!r} is not an SSM parameter ARN")
    statements = [
        iam.statement(["ssm:GetParameters"], sorted(set(parameter_arns)), sid="ReadAppSecrets")
    ]
    if kms_key_arns:
        for arn in kms_key_arns:
            if not _KMS_KEY_ARN.match(arn):
                raise ValueError(f"{arn!r} is not a KMS key ARN")
        statements.append(
            iam.statement(["kms:Decrypt"], sorted(set(kms_key_arns)), sid="DecryptAppSecrets")
        )
    return iam.policy(statements)


def request_count_resource_label(load_balancer_arn: str, target_group_arn: str) -> str:
    """``ALBRequestCountPerTarget``'s resource label, from the ALB and target group ARNs.

    Format ``app/<alb-name>/<id>/targetgroup/<tg-name>/<id>``: the ARN
    suffixes, derived here so the label never depends on a computed
    attribute that may be unknown during a preview.
    """
    _, sep, alb_suffix = load_balancer_arn.partition(":loadbalancer/")
    if not sep or not alb_suffix.startswith("app/"):
        raise ValueError(f"{load_balancer_arn!r} is not an application load balancer ARN")
    _, sep, tg_suffix = target_group_arn.partition(":targetgroup/")
    if not sep or not tg_suffix:
        raise ValueError(f"{target_group_arn!r} is not a target group ARN")
    return f"{alb_suffix}/targetgroup/{tg_suffix}"
