"""sentryDsn: a SecureString compute reads like the other secrets, and RELEASE; unset: nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.secrets import config_revision
from infra.config import ConfigError, StackConfig
from tests.infra.harness import REPO_ROOT, StackResult, build_stack

DSN = "https://abc123@o1.ingest.sentry.io/456"
PARAMETER = "aws:ssm/parameter:Parameter"


def plain_environment(result: StackResult, compute: str) -> tuple[dict[str, str], set[str]]:
    """The app's plain environment and the names of its secrets (valueFrom or *_SSM_PARAMETER)."""
    if compute == "fargate":
        task = result.one("aws:ecs/taskDefinition:TaskDefinition")
        container = json.loads(task.inputs["containerDefinitions"])[0]
        env = {item["name"]: item["value"] for item in container["environment"]}
        return env, {item["name"] for item in container["secrets"]}
    function = result.one("aws:lambda/function:Function", "app-function")
    env = dict(function.inputs["environment"]["variables"])
    names = {key.removesuffix("_SSM_PARAMETER") for key in env if key.endswith("_SSM_PARAMETER")}
    return env, names


def granted(result: StackResult, compute: str) -> list[str]:
    """The SSM parameter ARNs the role that reads the secrets may read."""
    name = "app-execution-secrets" if compute == "fargate" else "app-function-parameters"
    policy = json.loads(result.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"])
    resources: list[str] = policy["Statement"][0]["Resource"]
    return resources


@pytest.mark.parametrize("compute", ["fargate", "lambda"])
def test_a_dsn_becomes_a_secure_string_read_like_the_other_secrets(compute: str) -> None:
    result = build_stack("dev", compute, sentryDsn=DSN)
    parameter = result.one(PARAMETER, "secrets-sentry-dsn")
    assert parameter.inputs["name"] == "/fastapi-on-aws/dev/sentry-dsn"
    assert parameter.inputs["type"] == "SecureString"
    assert "value" in parameter.secret_inputs
    env, secrets = plain_environment(result, compute)
    assert "SENTRY_DSN" in secrets
    assert DSN not in json.dumps(env)
    assert any(
        arn.endswith(":parameter/fastapi-on-aws/dev/sentry-dsn") for arn in granted(result, compute)
    )
    # The image tag the compute runs, as the events' release.
    target = "service" if compute == "fargate" else "lambda"
    assert env["RELEASE"].startswith(f"{target}-")
    assert env["CONFIG_REVISION"].endswith(".sentry-dsn-v1")
    assert "sentryDsn" not in json.dumps(result.outputs)


@pytest.mark.parametrize("compute", ["fargate", "lambda"])
def test_without_a_dsn_nothing_is_created_and_the_environment_is_unchanged(compute: str) -> None:
    result = build_stack("dev", compute)
    assert all("sentry" not in record.name for record in result.find(PARAMETER))
    env, secrets = plain_environment(result, compute)
    assert "SENTRY_DSN" not in secrets
    assert "RELEASE" not in env
    assert env["CONFIG_REVISION"] == "api-token-v1.database-password-v1.redis-password-v1"


def test_config_revision_of_the_three_generated_secrets_is_unchanged() -> None:
    versions: dict[str, Any] = {"API_TOKEN": 3, "DATABASE_PASSWORD": 1, "REDIS_PASSWORD": 2}
    assert config_revision(versions) == "api-token-v3.database-password-v1.redis-password-v2"
    with_dsn = config_revision({**versions, "SENTRY_DSN": 4})
    assert with_dsn == "api-token-v3.database-password-v1.redis-password-v2.sentry-dsn-v4"


@pytest.mark.parametrize(
    "dsn", ["http://abc@sentry.example/1", "https://sentry.example/1", "https://abc@h/x", "x"]
)
def test_a_malformed_dsn_is_refused_without_echoing_it(dsn: str) -> None:
    with pytest.raises(ConfigError, match="sentryDsn") as error:
        StackConfig.from_values("dev", {"aws:region": "eu-west-1", "sentryDsn": dsn})
    assert dsn not in str(error.value)


def test_the_dsn_stays_out_of_the_config_repr() -> None:
    cfg = StackConfig.from_values("dev", {"aws:region": "eu-west-1", "sentryDsn": DSN})
    assert cfg.sentry_dsn == DSN
    assert DSN not in repr(cfg)
    assert "/fastapi-on-aws/<stack>/sentry-dsn" in (REPO_ROOT / "docs/contracts.md").read_text()
