"""The Lambda shape's documents as pure functions (infra/documents/serverless.py), no Pulumi.

Each test names the docs/invariants.md ids it covers.
"""

from __future__ import annotations

import json

import pytest

from infra.components.serverless import ServerlessSettings
from infra.documents import serverless as ld
from tests.infra.aws_models import assert_valid_policy, policy_document_errors

PARAMETER_NAMES = {
    "API_TOKEN": "/fastapi-on-aws/dev/api-token",
    "DATABASE_PASSWORD": "/fastapi-on-aws/dev/database-password",
    "REDIS_PASSWORD": "/fastapi-on-aws/dev/redis-password",
}
PARAMETER_ARNS = [
    f"arn:aws:ssm:eu-west-1:123456789012:parameter{name}" for name in PARAMETER_NAMES.values()
]
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-proxy-credentials-abc123"
EXECUTION_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"


def environment(**overrides: object) -> dict[str, str]:
    """``function_environment`` with realistic defaults."""
    arguments: dict[str, object] = {
        "production": False,
        "proxy_endpoint": "fastapi-on-aws-dev-proxy.proxy-abc.eu-west-1.rds.amazonaws.com",
        "redis_endpoint": "master.cache.abc.euw1.cache.amazonaws.com",
        "log_level": "INFO",
        "cors_origins": ("https://a.example", "https://b.example"),
        "cache_ttl_seconds": 60,
        "parameter_names": PARAMETER_NAMES,
        "config_revision": "api-token-v1.database-password-v1.redis-password-v1",
        **overrides,
    }
    return ld.function_environment(**arguments)  # type: ignore[arg-type]


# --- B7: the environment ------------------------------------------------------------------


def test_b7_environment_names_parameters_and_holds_no_secret_variable() -> None:
    """B7: the three *_SSM_PARAMETER names, no API_TOKEN/…_PASSWORD value variables."""
    env = environment()
    assert {k: v for k, v in env.items() if k.endswith("_SSM_PARAMETER")} == {
        "API_TOKEN_SSM_PARAMETER": PARAMETER_NAMES["API_TOKEN"],
        "DATABASE_PASSWORD_SSM_PARAMETER": PARAMETER_NAMES["DATABASE_PASSWORD"],
        "REDIS_PASSWORD_SSM_PARAMETER": PARAMETER_NAMES["REDIS_PASSWORD"],
    }
    assert not set(ld.SECRET_VARIABLES) & set(env)


def test_environment_follows_the_contract() -> None:
    """docs/contracts.md: staging/production, proxy URL with TLS, rediss, service settings."""
    env = environment()
    assert env["ENVIRONMENT"] == "staging"
    assert environment(production=True)["ENVIRONMENT"] == "production"
    assert env["DATABASE_URL"] == (
        "postgresql+asyncpg://app@fastapi-on-aws-dev-proxy.proxy-abc.eu-west-1.rds.amazonaws.com"
        ":5432/app?ssl=require"
    )
    assert env["REDIS_URL"] == "rediss://master.cache.abc.euw1.cache.amazonaws.com:6379/0"
    assert env["CORS_ORIGINS"] == "https://a.example,https://b.example"
    assert (env["LOG_LEVEL"], env["CACHE_TTL_SECONDS"]) == ("INFO", "60")
    # The secrets' SSM versions, so a rotation publishes a new version (defect 8).
    assert env["CONFIG_REVISION"] == "api-token-v1.database-password-v1.redis-password-v1"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"proxy_endpoint": None}, "RDS Proxy endpoint"),
        ({"redis_endpoint": ""}, "Redis endpoint"),
        ({"parameter_names": {"API_TOKEN": "/a/b"}}, "missing"),
        ({"parameter_names": {**PARAMETER_NAMES, "OTHER": "/x"}}, "unknown"),
        # A value where a name belongs: the message must not echo it.
        ({"parameter_names": {**PARAMETER_NAMES, "API_TOKEN": "s3cr3t-value"}}, "SSM parameter"),
        ({"parameter_names": {**PARAMETER_NAMES, "API_TOKEN": PARAMETER_ARNS[0]}}, "name like"),
    ],
    ids=["no-proxy", "no-redis", "missing", "unknown", "value", "arn"],
)
def test_b7_environment_refuses_bad_inputs(overrides: dict[str, object], message: str) -> None:
    """B7: unresolved endpoints and anything but the three parameter names are refused."""
    with pytest.raises(ValueError, match=message) as caught:
        environment(**overrides)
    assert "s3cr3t-value" not in str(caught.value)


# --- B11: IAM documents -------------------------------------------------------------------


def test_b11_trust_policies_name_exactly_one_service() -> None:
    """B11: the function role trusts Lambda only, the proxy role RDS only."""
    for document, principal in (
        (ld.lambda_trust_policy(), "lambda.amazonaws.com"),
        (ld.proxy_trust_policy(), "rds.amazonaws.com"),
    ):
        assert_valid_policy(document, trust=True)
        (statement,) = document["Statement"]
        assert statement["Principal"] == {"Service": principal}
        assert statement["Action"] == "sts:AssumeRole"


def test_b11_function_policy_reads_exactly_the_given_parameters() -> None:
    """A11/B11: ssm:GetParameters on exactly the parameter ARNs, nothing else."""
    document = ld.function_policy([*PARAMETER_ARNS, PARAMETER_ARNS[0]])
    assert_valid_policy(document)
    (statement,) = document["Statement"]
    assert statement["Action"] == ["ssm:GetParameters"]
    assert statement["Resource"] == sorted(PARAMETER_ARNS)
    with pytest.raises(ValueError, match="SSM parameter ARN"):
        ld.function_policy(["*"])
    with pytest.raises(ValueError, match="at least one"):
        ld.function_policy([])


def test_b11_proxy_policy_reads_exactly_its_secret() -> None:
    """A13/B11: secretsmanager:GetSecretValue on the credentials secret only."""
    document = ld.proxy_secret_policy(SECRET_ARN)
    assert not policy_document_errors(document)
    (statement,) = document["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == SECRET_ARN
    with pytest.raises(ValueError, match="Secrets Manager"):
        ld.proxy_secret_policy("arn:aws:secretsmanager:eu-west-1:123456789012:secret:*x")


# --- A12, A13, B14 ------------------------------------------------------------------------


def test_a12_source_arn_is_scoped_to_one_api() -> None:
    """A12: the permission's source ARN is this API's execution ARN plus stage/route."""
    assert ld.api_source_arn(EXECUTION_ARN) == f"{EXECUTION_ARN}/*/*"
    with pytest.raises(ValueError, match="execution ARN"):
        ld.api_source_arn("arn:aws:execute-api:eu-west-1:123456789012:*")


def test_a13_proxy_credentials_and_target_identifier() -> None:
    """A13: the secret is {"username", "password"}; the target is the instance's identifier."""
    assert json.loads(ld.proxy_credentials("app", "pw-1")) == {
        "username": "app",
        "password": "pw-1",
    }
    with pytest.raises(ValueError, match="password"):
        ld.proxy_credentials("app", "")
    arn = "arn:aws:rds:eu-west-1:123456789012:db:fastapi-on-aws-dev-postgres"
    assert ld.db_instance_identifier(arn) == "fastapi-on-aws-dev-postgres"
    with pytest.raises(ValueError, match="DB instance ARN"):
        ld.db_instance_identifier("arn:aws:rds:eu-west-1:123456789012:cluster:x")


def test_b14_access_log_format_is_json_of_context_variables() -> None:
    """B14: one JSON object per request, only $context variables, request id included."""
    document = json.loads(ld.access_log_format())
    assert document["requestId"] == "$context.requestId"
    assert all(value.startswith("$context.") for value in document.values())
    assert {"status", "routeKey", "integrationError"} <= set(document)


# --- migrations on deploy -----------------------------------------------------------------


def test_migrate_event_is_the_documented_payload() -> None:
    """Issue item 5: the direct invocation the handler treats as "run the migrations"."""
    assert json.loads(ld.migrate_event()) == {"action": "migrate"}


def test_alias_moves_only_after_a_successful_migration() -> None:
    """Issue item 5: the alias gets the version only when the migration reported ok."""
    ok = json.dumps({"status": "ok", "revision": "0001"})
    assert ld.migrated_version("7", ok) == "7"
    # No result from the engine (mocks): nothing to check.
    assert ld.migrated_version("7", None) == "7"
    failures = [
        json.dumps({"status": "error", "error": "relation exists"}),
        json.dumps({"status": "ok"}),
        json.dumps({"status": "ok", "revision": ""}),
        "null",
        "Task timed out",
    ]
    for result in failures:
        with pytest.raises(ld.MigrationFailedError, match="version 7"):
            ld.migrated_version("7", result)


# --- A11: settings guard ------------------------------------------------------------------


def settings(**overrides: object) -> ServerlessSettings:
    """A valid dev ``ServerlessSettings`` with ``overrides``."""
    values: dict[str, object] = {
        "stack": "dev",
        "production": False,
        "cpu_architecture": "x86_64",
        "memory_mb": 1024,
        "timeout_seconds": 20,
        "reserved_concurrency": -1,
        "throttle_rate": 50,
        "throttle_burst": 100,
        "log_retention_days": 14,
        "log_level": "INFO",
        "cors_origins": (),
        "cache_ttl_seconds": 60,
        **overrides,
    }
    return ServerlessSettings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"timeout_seconds": 30}, "lambdaTimeoutSeconds"),
        ({"timeout_seconds": 0}, "lambdaTimeoutSeconds"),
        ({"memory_mb": 64}, "lambdaMemoryMb"),
        ({"reserved_concurrency": 0}, "lambdaReservedConcurrency"),
        ({"cpu_architecture": "X86_64"}, "cpuArchitecture"),
    ],
)
def test_a11_settings_refuse_what_lambda_or_the_api_would_reject(
    overrides: dict[str, object], key: str
) -> None:
    """A11: timeout under the API's 30 s, valid memory/concurrency/architecture, key named."""
    assert settings().timeout_seconds == 20
    with pytest.raises(ValueError, match=f"'{key}'"):
        settings(**overrides)
    assert ld.MAX_FUNCTION_TIMEOUT_SECONDS * 1000 < ld.API_INTEGRATION_TIMEOUT_MS
