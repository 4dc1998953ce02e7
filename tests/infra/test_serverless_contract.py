"""Contract tests between the Lambda shape (infra/) and the service (service/).

The function's environment (infra/documents/serverless.py) must be exactly what
``service.config`` reads on Lambda (docs/contracts.md): parameter names that
``load_settings`` resolves with one SSM call, never the values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import lambda_handler
from infra.documents import serverless as ld
from service.config import Settings, env_name, load_settings
from service.lambda_runtime import reset_runtime

PREFIX = "/fastapi-on-aws/dev"
PARAMETER_NAMES = {
    "API_TOKEN": f"{PREFIX}/api-token",
    "DATABASE_PASSWORD": f"{PREFIX}/database-password",
    "REDIS_PASSWORD": f"{PREFIX}/redis-password",
    # Only with error tracking on (sentryDsn); here, so the exact-match test sees it.
    "SENTRY_DSN": f"{PREFIX}/sentry-dsn",
}
VALUES = {
    "API_TOKEN": "t" * 48,
    "DATABASE_PASSWORD": "p-_.~" * 6,
    "REDIS_PASSWORD": "r!&#" * 16,
    "SENTRY_DSN": "https://abc123@o1.ingest.sentry.io/456",
}
# Settings the function deliberately leaves at the service's default, with the
# reason. A new Settings field fails the exact-match test until someone decides.
LEFT_AT_DEFAULT = {
    "DATABASE_POOL_SIZE": "one request at a time per execution environment; the proxy pools",
    "DATABASE_MAX_OVERFLOW": "as above",
    "CACHE_TIMEOUT_SECONDS": "service-side latency budget, not an infrastructure fact",
    "READINESS_TIMEOUT_SECONDS": "as above",
    "MIGRATE_ON_START": "Lambda migrates through the deploy-time invocation, not at start-up",
    "MAX_BODY_BYTES": "an application limit (1 MiB default), the same in every environment",
    # docs/contracts.md, "Rate limits": per-ENVIRONMENT defaults (staging and production
    # alike); an operator who needs other quotas sets them on the service, not per stack.
    "RATE_LIMIT_WINDOW_SECONDS": "an application limit, defaulted per ENVIRONMENT",
    "RATE_LIMIT_READS": "as above",
    "RATE_LIMIT_WRITES": "as above",
    "RATE_LIMIT_AUTH_FAILURES": "as above",
    "MIGRATION_LOCK_TIMEOUT_SECONDS": "the migrate function's 900 s timeout outlasts 300 s",
    "MIGRATION_CONNECT_TIMEOUT_SECONDS": "only the migrate function waits for the database (600 s)",
    "HOST": "no socket: the runtime interface client calls the handler",
    "PORT": "as above",
    # Resolved from the *_SSM_PARAMETER names at cold start (B7).
    "API_TOKEN": "from SSM",
    "DATABASE_PASSWORD": "from SSM",
    "REDIS_PASSWORD": "from SSM",
    "SENTRY_DSN": "from SSM",
    # The issuer's key download: service-side bounds, the same for every issuer.
    "AUTH_JWKS_URL": "Cognito's JWKS is at the issuer's well-known path, the default",
    "AUTH_JWKS_TIMEOUT_SECONDS": "service-side latency budget, not an infrastructure fact",
    "AUTH_JWKS_REFRESH_SECONDS": "as above",
}
# Set only with authMode: jwt (docs/contracts.md, "Authentication"): the exact-match
# test gives them.
JWT_ENVIRONMENT = {
    "AUTH_MODE": "jwt",
    "AUTH_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
    "AUTH_AUDIENCE": "1example23456789",
    "AUTH_WRITE_SCOPE": "fastapi-on-aws/items:write",
}


def environment(production: bool, auth: dict[str, str] | None = None) -> dict[str, str]:
    """The function's environment, as the component computes it."""
    return ld.function_environment(
        production=production,
        proxy_endpoint="fastapi-on-aws-dev-proxy.proxy-c0.eu-west-1.rds.amazonaws.com",
        redis_endpoint="master.cache.abc.euw1.cache.amazonaws.com",
        log_level="INFO",
        cors_origins=("https://app.example",),
        cache_ttl_seconds=120,
        parameter_names=PARAMETER_NAMES,
        config_revision="api-token-v1.database-password-v1.redis-password-v1.sentry-dsn-v1",
        release="lambda-0123456789ab-cafe0123",
        auth=auth,
    )


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A clean environment and a moto SSM holding the three SecureString parameters."""
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-west-1")
        for variable, name in PARAMETER_NAMES.items():
            client.put_parameter(Name=name, Value=VALUES[variable], Type="SecureString")
        yield client


def test_b7_function_variables_are_exactly_what_settings_reads() -> None:
    """B7: environment = Settings' variables minus the documented defaults; no secret value."""
    settings_variables = {env_name(field) for field in Settings.model_fields}
    assert not set(LEFT_AT_DEFAULT) - settings_variables, "stale LEFT_AT_DEFAULT entry"
    given = set(environment(False, auth=JWT_ENVIRONMENT))
    assert given == settings_variables - set(LEFT_AT_DEFAULT)


@pytest.mark.parametrize("production", [False, True], ids=["dev", "prod"])
def test_b7_function_environment_loads_with_secrets_from_ssm(
    production: bool, ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B7: the service resolves the named parameters and connects through the proxy with TLS."""
    for name, value in environment(production).items():
        monkeypatch.setenv(name, value)
    settings = load_settings(ssm_client=ssm)
    assert settings.environment == ("production" if production else "staging")
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == VALUES["API_TOKEN"]
    assert settings.redis_password is not None
    assert settings.redis_password.get_secret_value() == VALUES["REDIS_PASSWORD"]
    assert settings.sentry_dsn is not None
    assert settings.sentry_dsn.get_secret_value() == VALUES["SENTRY_DSN"]
    assert settings.release == "lambda-0123456789ab-cafe0123"
    assert settings.redis_url == "rediss://master.cache.abc.euw1.cache.amazonaws.com:6379/0"
    assert settings.cors_origins == ["https://app.example"]
    assert settings.cache_ttl_seconds == 120
    url = settings.sqlalchemy_url()
    assert (url.drivername, url.username, url.host, url.port, url.database) == (
        "postgresql+asyncpg",
        "app",
        "fastapi-on-aws-dev-proxy.proxy-c0.eu-west-1.rds.amazonaws.com",
        5432,
        "app",
    )
    assert url.password == VALUES["DATABASE_PASSWORD"]
    assert url.query.get("ssl") == "require"


def invoke(event: dict[str, Any]) -> str:
    """Invoke the real handler as Lambda would, in a fresh execution environment.

    Returns the JSON result the ``aws.lambda_.Invocation`` resource would hold.
    Runs in a worker thread: the runtime owns that thread's event loop, and the
    mocked Pulumi runs of neighbouring tests use the main thread's.
    """

    def run() -> str:
        try:
            return json.dumps(lambda_handler.handler(event, None))
        finally:
            reset_runtime()

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(run).result(timeout=60)


def test_migrate_event_runs_the_migrations_and_passes_the_alias_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue item 5: the deploy-time event migrates, and its result lets the alias move.

    The real handler against a throw-away SQLite database (the schema logic is
    the same one that runs against the proxy). A CRUD-scoped invocation would
    add a ``tf`` key, which the handler refuses: the gate then stops the deploy.
    """
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    result = invoke(json.loads(ld.migrate_event()))
    assert json.loads(result)["status"] == "ok"
    assert ld.migrated_version("3", result) == "3"

    refused = invoke({**json.loads(ld.migrate_event()), "tf": {"action": "create"}})
    with pytest.raises(ld.MigrationFailedError, match="did not succeed"):
        ld.migrated_version("3", refused)
