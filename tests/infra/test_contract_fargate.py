"""Contract tests between the Fargate shape (infra/) and the service (service/).

The infra side and the service side are built separately; these tests import
both and check the facts each relies on (docs/contracts.md): the liveness
route and port the load balancer probes, and the settings the container is
given.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.documents import task_definition as td
from service.config import Settings, env_name
from service.main import create_app

# Settings the Fargate container deliberately leaves at the service's default,
# each with the reason. A new Settings field makes the exact-match test below
# fail until someone decides whether the container must set it.
LEFT_AT_DEFAULT = {
    "DATABASE_POOL_SIZE": "the service's pool sizing suits one uvicorn worker per task",
    "DATABASE_MAX_OVERFLOW": "as above",
    "CACHE_TIMEOUT_SECONDS": "service-side latency budget, not an infrastructure fact",
    "READINESS_TIMEOUT_SECONDS": "as above",
    "MIGRATE_ON_START": "true by default: `serve` must migrate before it listens",
    "MAX_BODY_BYTES": "an application limit (1 MiB default), the same in every environment",
    # docs/contracts.md, "Rate limits": per-ENVIRONMENT defaults (staging and production
    # alike); an operator who needs other quotas sets them on the service, not per stack.
    "RATE_LIMIT_WINDOW_SECONDS": "an application limit, defaulted per ENVIRONMENT",
    "RATE_LIMIT_READS": "as above",
    "RATE_LIMIT_WRITES": "as above",
    "RATE_LIMIT_AUTH_FAILURES": "as above",
    "MIGRATION_LOCK_TIMEOUT_SECONDS": "the 300 s default outlasts any migration of this schema",
    "MIGRATION_CONNECT_TIMEOUT_SECONDS": "the service is created after RDS is AVAILABLE; a task "
    "that cannot connect fails its start and ECS retries it",
    # The Lambda shape's mechanism; Fargate injects values via secrets[].valueFrom.
    "API_TOKEN_SSM_PARAMETER": "Lambda only",
    "DATABASE_PASSWORD_SSM_PARAMETER": "Lambda only",
    "REDIS_PASSWORD_SSM_PARAMETER": "Lambda only",
    "SENTRY_DSN_SSM_PARAMETER": "Lambda only",
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
# Set only with error tracking on (sentryDsn); the exact-match test gives them.
RELEASE = "service-0123456789ab-cafe0123"

FAKE_SECRETS = {
    "API_TOKEN": "t" * 48,
    "DATABASE_PASSWORD": "p" * 32,
    "REDIS_PASSWORD": "r" * 64,
}


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def container_environment(
    production: bool, release: str | None = None, auth: dict[str, str] | None = None
) -> dict[str, str]:
    """The plain environment the Fargate task gives the container."""
    return td.service_environment(
        production=production,
        database_address="db.internal.example",
        redis_endpoint="cache.internal.example",
        log_level="INFO",
        cors_origins=["https://app.example"],
        cache_ttl_seconds=120,
        config_revision="api-token-v1.database-password-v1.redis-password-v1",
        release=release,
        auth=auth,
    )


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No Settings variable leaks in from the machine running the tests."""
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    return monkeypatch


def settings_variables() -> set[str]:
    """Every environment variable ``Settings`` reads."""
    return {env_name(field) for field in Settings.model_fields}


def test_a2_container_variables_are_exactly_what_settings_reads() -> None:
    """A2/B7: environment + secrets = Settings' variables minus the documented defaults.

    ``Settings`` ignores unknown variables (``extra="ignore"``), so a misspelt
    variable in the task definition would silently do nothing: only this
    exact comparison catches it.
    """
    given = (
        set(container_environment(production=False, release=RELEASE, auth=JWT_ENVIRONMENT))
        | set(td.SECRET_VARIABLES)
        | set(td.OPTIONAL_SECRET_VARIABLES)
    )
    assert not set(LEFT_AT_DEFAULT) - settings_variables(), "stale LEFT_AT_DEFAULT entry"
    assert given == settings_variables() - set(LEFT_AT_DEFAULT)


def test_b7_secret_variables_are_the_settings_secret_fields() -> None:
    """B7: what the infra injects via valueFrom is exactly the service's secret fields."""
    secret_fields = {
        name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)
    }
    assert {env_name(name) for name in secret_fields} == set(
        td.SECRET_VARIABLES + td.OPTIONAL_SECRET_VARIABLES
    )


@pytest.mark.parametrize("production", [False, True], ids=["dev", "prod"])
def test_container_settings_are_accepted_by_the_service(
    production: bool, clean_environment: pytest.MonkeyPatch
) -> None:
    """The container's variables load into valid Settings, on the container port."""
    for name, value in {**container_environment(production), **FAKE_SECRETS}.items():
        clean_environment.setenv(name, value)
    settings = Settings()
    assert settings.environment == ("production" if production else "staging")
    assert settings.port == td.CONTAINER_PORT
    assert settings.host == "0.0.0.0"  # noqa: S104 - the value under test
    assert settings.cors_origins == ["https://app.example"]
    assert settings.cache_ttl_seconds == 120
    assert settings.migrate_on_start is True
    assert settings.redis_url == "rediss://cache.internal.example:6379/0"
    url = settings.sqlalchemy_url()
    assert (url.drivername, url.username, url.port, url.database) == (
        "postgresql+asyncpg",
        "app",
        5432,
        "app",
    )
    assert url.password == FAKE_SECRETS["DATABASE_PASSWORD"]
    assert url.query.get("ssl") == "require"


def test_a2_liveness_route_is_a_declared_get_route_of_the_app() -> None:
    """A2: the target group's and the container's probe path is a GET route the app declares."""
    schema = create_app(Settings(environment="test")).openapi()
    assert "get" in schema["paths"][td.HEALTH_CHECK_PATH]


async def probe_health(app: Any) -> tuple[httpx.Response, httpx.Response]:
    """Run the app's lifespan and GET /health and /health/ready through ASGI."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://task") as client:
            live = await client.get(td.HEALTH_CHECK_PATH, timeout=5)
            ready = await client.get("/health/ready", timeout=5)
    return live, ready


def test_a2_liveness_answers_200_with_no_database_or_cache_reachable(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    """A2: /health answers 200 while PostgreSQL and Redis are unreachable, migrations unrun.

    The container's real environment (staging), with DATABASE_URL and
    REDIS_URL pointed at closed local ports: if liveness touched a
    dependency, an outage of the database would get every task killed.
    """
    environment = {**container_environment(production=False), **FAKE_SECRETS}
    environment["DATABASE_URL"] = (
        f"postgresql+asyncpg://app@127.0.0.1:{closed_port()}/app?ssl=disable"
    )
    environment["REDIS_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    for name, value in environment.items():
        clean_environment.setenv(name, value)
    app = create_app(Settings())
    # Own event loop in a worker thread: the mocked Pulumi runs in this module's
    # neighbours use the main thread's loop, which an async test would close.
    with ThreadPoolExecutor(max_workers=1) as worker:
        live, ready = worker.submit(asyncio.run, probe_health(app)).result(timeout=30)
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    # The same app really cannot reach its database: readiness says so.
    assert ready.status_code == 503


def test_a2_health_check_command_probes_the_served_port_and_path() -> None:
    """A2: the container health check calls the port Settings serves on and the liveness path."""
    probe = " ".join(td.health_check_command())
    assert f"http://127.0.0.1:{Settings(environment='test').port}{td.HEALTH_CHECK_PATH}'" in probe


# --- the image the task runs -------------------------------------------------------------

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def dockerfile_stage(target: str) -> dict[str, Any]:
    """USER, CMD, ENTRYPOINT and EXPOSE in effect for a Dockerfile target (inherited too)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    current: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.IGNORECASE)
            assert match, line
            current = []
            stages[match.group(2) or match.group(1)] = (match.group(1), current)
        else:
            current.append((keyword.upper(), rest.strip()))
    chain: list[list[tuple[str, str]]] = []
    name = target
    while name in stages:
        parent, instructions = stages[name]
        chain.insert(0, instructions)
        name = parent
    effective: dict[str, Any] = {"EXPOSE": set()}
    for instructions in chain:
        for keyword, value in instructions:
            if keyword == "EXPOSE":
                effective["EXPOSE"] |= {int(port.split("/")[0]) for port in value.split()}
            elif keyword in ("USER", "CMD", "ENTRYPOINT"):
                effective[keyword] = json.loads(value) if value.startswith("[") else value
    return effective


def test_image_runs_what_the_task_definition_expects() -> None:
    """B6/A2: the `service` target's user, command and port are the task definition's."""
    stage = dockerfile_stage("service")
    assert stage["USER"] == td.CONTAINER_USER
    assert stage["CMD"] == list(td.CONTAINER_COMMAND)
    assert "ENTRYPOINT" not in stage
    assert stage["EXPOSE"] == {td.CONTAINER_PORT}
