"""The Fargate task as data (infra/documents/task_definition.py), without the Pulumi runtime.

Each test names the docs/invariants.md id it covers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra.documents import iam
from infra.documents import task_definition as td
from tests.infra.aws_models import (
    assert_valid_policy,
    assert_valid_request,
    policy_document_errors,
    request_errors,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app-repo@{DIGEST}"
PARAMETER_ARNS = {
    "API_TOKEN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/fastapi-on-aws/dev/api-token",
    "DATABASE_PASSWORD": (
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/fastapi-on-aws/dev/database-password"
    ),
    "REDIS_PASSWORD": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/fastapi-on-aws/dev/redis-password",
}


def environment(production: bool = False) -> dict[str, str]:
    """A representative environment, as the component builds it."""
    return td.service_environment(
        production=production,
        database_address="db.abc.eu-west-1.rds.amazonaws.com",
        redis_endpoint="master.cache.abc.euw1.cache.amazonaws.com",
        log_level="INFO",
        cors_origins=["https://a.example", "https://b.example"],
        cache_ttl_seconds=60,
        config_revision="api-token-v1.database-password-v1.redis-password-v1",
    )


def spec(**overrides: Any) -> td.ContainerSpec:
    """A valid container spec; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "image": IMAGE,
        "environment": environment(),
        "secret_parameter_arns": PARAMETER_ARNS,
        "log_group_name": "app-logs-1234567",
        "region": REGION,
    }
    fields.update(overrides)
    return td.ContainerSpec(**fields)


def request(arch: str = "arm64", **overrides: Any) -> dict[str, Any]:
    """A whole RegisterTaskDefinition request."""
    return td.register_task_definition_request(
        family="app-task",
        spec=spec(**overrides),
        cpu=256,
        memory=512,
        cpu_architecture=arch,
        execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/exec",
        task_role_arn=f"arn:aws:iam::{ACCOUNT}:role/task",
    )


# --- A5: the document validates against botocore's ECS model ---------------------------


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_a5_register_task_definition_request_matches_the_ecs_model(arch: str) -> None:
    """A5: the whole request (container definitions included) is a valid ECS request."""
    assert_valid_request("ecs", "RegisterTaskDefinition", request(arch))


def test_a5_survives_a_json_round_trip() -> None:
    """A5: the provider receives JSON; ints stay ints, lists stay lists after the trip."""
    definitions = json.loads(json.dumps(td.container_definitions(spec())))
    assert_valid_request(
        "ecs", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": definitions}
    )
    (container,) = definitions
    assert container["portMappings"] == [
        {"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}
    ]
    assert isinstance(container["healthCheck"]["command"], list)
    assert container["healthCheck"]["command"][0] == "CMD"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["portMappings"][0].update(containerPort="8000"), "containerPort"),
        (lambda c: c["healthCheck"].update(command="curl /health"), "command"),
        (lambda c: c.update(readOnlyRootFilesystem=True), "readOnlyRootFilesystem"),
        (lambda c: c["logConfiguration"].update(logDriver="cloudwatch"), "logDriver"),
        (lambda c: c["secrets"][0].pop("valueFrom"), "valueFrom"),
        (lambda c: c["environment"][0].update(value=8000), "value"),
    ],
    ids=[
        "string-port",
        "shell-health-check",
        "mis-cased-key",
        "bad-log-driver",
        "no-valuefrom",
        "int-env-value",
    ],
)
def test_a5_the_model_check_catches_what_ecs_would_reject(mutate: Any, expected: str) -> None:
    """A5: the validator is not a rubber stamp: typical mistakes are reported."""
    broken = copy.deepcopy(request())
    mutate(broken["containerDefinitions"][0])
    errors = request_errors("ecs", "RegisterTaskDefinition", broken)
    assert any(expected in e for e in errors), errors


def test_a5_task_level_mistakes_are_caught_too() -> None:
    """A5: cpu as an int, an unknown architecture and a missing family are all reported."""
    broken = request()
    broken["cpu"] = 256
    broken["runtimePlatform"]["cpuArchitecture"] = "AMD64"
    del broken["family"]
    errors = "\n".join(request_errors("ecs", "RegisterTaskDefinition", broken))
    assert "cpu" in errors
    assert "AMD64" in errors
    assert "family" in errors


def test_a5_container_serves_on_8000_and_checks_the_liveness_route() -> None:
    """A5/A2: one essential container on port 8000, health-checked on /health via `serve`."""
    (container,) = td.container_definitions(spec())
    assert container["essential"] is True
    assert container["name"] == td.CONTAINER_NAME
    assert container["command"] == ["python", "-m", "service", "serve"]
    assert [p["containerPort"] for p in container["portMappings"]] == [8000]
    probe = " ".join(container["healthCheck"]["command"])
    assert "http://127.0.0.1:8000/health'" in probe
    assert container["healthCheck"]["startPeriod"] == 60


def test_a5_image_must_be_pinned_by_digest() -> None:
    """A5: a tag is refused; the task only ever runs the image that was built."""
    with pytest.raises(ValueError, match="pinned by digest"):
        spec(image="123.dkr.ecr.eu-west-1.amazonaws.com/app:latest")


def test_a5_health_check_start_period_stays_within_the_ecs_limit() -> None:
    """A5: ECS rejects a start period above 300 s; the spec refuses it first."""
    with pytest.raises(ValueError, match=r"0\.\.300"):
        spec(health_check_start_period=301)


# --- A10: one architecture --------------------------------------------------------------


@pytest.mark.parametrize(("arch", "ecs"), [("x86_64", "X86_64"), ("arm64", "ARM64")])
def test_a10_runtime_platform_follows_the_stack_architecture(arch: str, ecs: str) -> None:
    """A10: the stack's cpuArchitecture maps to ECS runtimePlatform.cpuArchitecture."""
    assert td.runtime_platform(arch) == {"cpuArchitecture": ecs, "operatingSystemFamily": "LINUX"}


def test_a10_unknown_architecture_is_refused_with_the_allowed_values() -> None:
    """A10: a typo names the key and the allowed values."""
    with pytest.raises(ValueError, match=r"cpuArchitecture must be one of arm64, x86_64"):
        td.runtime_platform("amd64")


# --- B6: container hardening ------------------------------------------------------------


def test_b6_container_is_unprivileged_non_root_read_only_with_writable_tmp() -> None:
    """B6: not privileged, numeric non-root user, read-only root fs, /tmp on a task volume."""
    request_ = request()
    (container,) = request_["containerDefinitions"]
    assert container.get("privileged", False) is False
    user = container["user"]
    assert user.split(":")[0] not in ("0", "root")
    assert all(part.isdigit() and int(part) > 0 for part in user.split(":"))
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [
        {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}
    ]
    assert {v["name"] for v in request_["volumes"]} == {"tmp"}
    assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]


def test_b6_every_container_logs_through_awslogs() -> None:
    """B6: awslogs to the stack's log group and region."""
    for container in td.container_definitions(spec()):
        logs = container["logConfiguration"]
        assert logs["logDriver"] == "awslogs"
        assert logs["options"]["awslogs-group"] == "app-logs-1234567"
        assert logs["options"]["awslogs-region"] == REGION
        assert logs["options"]["awslogs-stream-prefix"]


# --- B7: secrets only through valueFrom -------------------------------------------------


def test_b7_secrets_come_from_ssm_parameter_arns_only() -> None:
    """B7: the three secrets are valueFrom SSM ARNs and absent from the plain environment."""
    (container,) = td.container_definitions(spec())
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert secrets == PARAMETER_ARNS
    plain = {e["name"]: e["value"] for e in container["environment"]}
    assert not set(td.SECRET_VARIABLES) & set(plain)
    userinfo = plain["DATABASE_URL"].split("//", 1)[1].split("@", 1)[0]
    assert userinfo == "app", "the database URL must carry the user only, never a password"


@pytest.mark.parametrize("name", ["API_TOKEN", "DATABASE_PASSWORD", "REDIS_PASSWORD"])
def test_b7_a_secret_in_the_plain_environment_is_refused(name: str) -> None:
    """B7: putting a secret into `environment` fails loudly, naming the variable."""
    with pytest.raises(ValueError, match=name):
        spec(environment={**environment(), name: "hunter2"})


def test_b7_value_from_must_be_an_ssm_parameter_arn() -> None:
    """B7: a parameter *name* or a Secrets Manager ARN is refused."""
    with pytest.raises(ValueError, match="SSM parameter ARN"):
        spec(secret_parameter_arns={**PARAMETER_ARNS, "API_TOKEN": "/fastapi-on-aws/dev/api-token"})


# --- environment ------------------------------------------------------------------------


def test_environment_follows_the_contract() -> None:
    """docs/contracts.md: URLs without password, TLS on both, staging/production by stack."""
    env = environment()
    assert env["ENVIRONMENT"] == "staging"
    assert environment(production=True)["ENVIRONMENT"] == "production"
    assert env["DATABASE_URL"] == (
        "postgresql+asyncpg://app@db.abc.eu-west-1.rds.amazonaws.com:5432/app?ssl=require"
    )
    assert env["REDIS_URL"] == "rediss://master.cache.abc.euw1.cache.amazonaws.com:6379/0"
    assert env["CORS_ORIGINS"] == "https://a.example,https://b.example"
    assert env["HOST"] == "0.0.0.0"  # noqa: S104 - asserting the value, not binding
    assert env["PORT"] == "8000"
    assert all(isinstance(v, str) for v in env.values())


# --- A6 / B11: IAM documents ------------------------------------------------------------


def test_a6_execution_policy_reads_exactly_the_app_parameters() -> None:
    """A6: ssm:GetParameters on exactly the three ARNs; no KMS grant without a CMK."""
    document = td.execution_role_policy(list(PARAMETER_ARNS.values()))
    assert_valid_policy(document)
    (statement,) = document["Statement"]
    assert statement["Action"] == ["ssm:GetParameters"]
    assert statement["Resource"] == sorted(PARAMETER_ARNS.values())


def test_a6_execution_policy_adds_kms_decrypt_for_a_cmk() -> None:
    """A6: kms:Decrypt on exactly the customer-managed key when one encrypts the secrets."""
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    document = td.execution_role_policy(list(PARAMETER_ARNS.values()), [key])
    assert_valid_policy(document)
    kms = [s for s in document["Statement"] if s["Action"] == ["kms:Decrypt"]]
    assert kms == [
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key, "Sid": "DecryptAppSecrets"}
    ]


def test_a6_execution_policy_refuses_wildcards_and_non_parameter_arns() -> None:
    """A6: `*` or a parameter path prefix never becomes a resource."""
    with pytest.raises(ValueError, match="not an SSM parameter ARN"):
        td.execution_role_policy(["*"])
    with pytest.raises(ValueError, match="at least one"):
        td.execution_role_policy([])


def test_b11_trust_policy_names_ecs_tasks_only() -> None:
    """B11: the task roles trust exactly ecs-tasks.amazonaws.com."""
    document = td.ecs_tasks_trust_policy()
    assert_valid_policy(document, trust=True)
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


def test_b11_policy_validator_catches_structural_mistakes() -> None:
    """B11: the structural IAM check reports what IAM would reject."""
    bad = iam.policy([iam.statement(["ssm:GetParameters"], ["arn:aws:ssm:x"])])
    bad["Statement"][0]["Principal"] = {"Service": "ecs-tasks.amazonaws.com"}
    bad["Statement"][0]["Effect"] = "allow"
    bad["Version"] = "2008-10-17"
    errors = "\n".join(policy_document_errors(bad))
    assert "Version" in errors
    assert "Effect" in errors
    assert "Principal" in errors
    assert "neither '*' nor an ARN" in errors
    assert policy_document_errors(td.ecs_tasks_trust_policy()) != []  # Principal, no Resource


# --- autoscaling label ------------------------------------------------------------------


def test_request_count_label_is_built_from_the_arn_suffixes() -> None:
    """ALBRequestCountPerTarget needs `app/<lb>/<id>/targetgroup/<tg>/<id>`."""
    prefix = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    alb = f"{prefix}:loadbalancer/app/app-alb-1/50dc6c495c0c9188"
    tg = f"{prefix}:targetgroup/app-tg-1/73e2d6bc24d8a067"
    assert td.request_count_resource_label(alb, tg) == (
        "app/app-alb-1/50dc6c495c0c9188/targetgroup/app-tg-1/73e2d6bc24d8a067"
    )
    with pytest.raises(ValueError, match="application load balancer"):
        td.request_count_resource_label(tg, tg)


@pytest.mark.parametrize("bad", ["", "None:5432", "db host", None])
def test_environment_refuses_an_unresolved_endpoint(bad: Any) -> None:
    """An empty or unresolved endpoint never turns into a URL like postgresql://app@None."""
    with pytest.raises(ValueError, match="database address must be a host name"):
        td.service_environment(
            production=False,
            database_address=bad,
            redis_endpoint="cache.example",
            log_level="INFO",
            cors_origins=[],
            cache_ttl_seconds=60,
            config_revision="api-token-v1.database-password-v1.redis-password-v1",
        )
