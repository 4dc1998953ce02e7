"""Start-up happens once per execution environment, and the loop outlives invocations."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from service.config import ConfigError
from service.lambda_runtime import get_runtime, reset_runtime

from .conftest import Invoke, StartupSpy, run
from .events import ALB, FUNCTION_URL, HTTP_API, REST_API, http_event, result_json

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite in a temp dir: enough for /health, which touches no database."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")


@pytest.mark.usefixtures("sqlite_env")
def test_two_invocations_cause_exactly_one_start_up(invoke: Invoke, startups: StartupSpy) -> None:
    first = invoke(http_event(HTTP_API, "GET", "/health"))
    second = invoke(http_event(REST_API, "GET", "/health"))

    assert first["statusCode"] == second["statusCode"] == 200
    assert startups.settings_loads == 1
    assert startups.app_startups == 1


@pytest.mark.usefixtures("sqlite_env")
def test_a_new_execution_environment_starts_again(invoke: Invoke, startups: StartupSpy) -> None:
    invoke(http_event(ALB, "GET", "/health"))
    reset_runtime()  # what a new execution environment looks like to the module
    invoke(http_event(FUNCTION_URL, "GET", "/health"))
    invoke(http_event(FUNCTION_URL, "GET", "/health"))

    assert startups.settings_loads == 2
    assert startups.app_startups == 2


@pytest.mark.usefixtures("sqlite_env")
def test_the_app_is_shut_down_when_the_runtime_closes(invoke: Invoke) -> None:
    invoke(http_event(HTTP_API, "GET", "/health"))
    loop = get_runtime().loop
    reset_runtime()
    assert loop.is_closed()


@pytest.mark.usefixtures("sqlite_env")
def test_bad_settings_fail_clearly_and_the_next_invocation_retries(
    invoke: Invoke, startups: StartupSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("API_TOKEN")
    with pytest.raises(ConfigError, match="API_TOKEN must be set when ENVIRONMENT=production"):
        invoke(http_event(HTTP_API, "GET", "/health"))

    monkeypatch.setenv("ENVIRONMENT", "test")
    assert invoke(http_event(HTTP_API, "GET", "/health"))["statusCode"] == 200
    assert startups.settings_loads == 2
    assert startups.app_startups == 1


# Imported only when needed, never on the default cold path (token auth, no SENTRY_DSN):
# migrations, SSM, JWT verification and error tracking weigh on every cold start.
LAZY_MODULES = ("alembic", "boto3", "jwt", "sentry_sdk")


def test_importing_the_handler_does_no_work() -> None:
    """Import with settings that would be refused: nothing may load them, or Alembic/boto3."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_SSM_PARAMETER") and key not in {"API_TOKEN", "DATABASE_URL"}
    }
    env["ENVIRONMENT"] = "production"  # load_settings() would raise: no API_TOKEN
    probe = (
        "import sys, lambda_handler; "
        f"print(sorted(m for m in {LAZY_MODULES!r} if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


# --- the loop persists: pooled connections survive between invocations -------------------


async def _backend_pids(database_url: str) -> list[int]:
    name = make_url(database_url).database
    engine = create_async_engine(make_url(database_url).set(database="postgres"))
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid() ORDER BY pid"
                ),
                {"name": name},
            )
            return [row.pid for row in rows]
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_database_connections_are_reused_across_invocations(
    postgres_env: str, invoke: Invoke
) -> None:
    assert run(_backend_pids(postgres_env)) == []

    invoke(http_event(HTTP_API, "GET", "/api/v1/items"))
    after_first = run(_backend_pids(postgres_env))
    assert len(after_first) == 1

    for source in (REST_API, ALB, FUNCTION_URL, HTTP_API):
        assert invoke(http_event(source, "GET", "/api/v1/items"))["statusCode"] == 200
    # The same single backend served them all: one pool, on one loop, kept warm.
    assert run(_backend_pids(postgres_env)) == after_first

    reset_runtime()
    assert run(_backend_pids(postgres_env)) == []


@pytest.mark.postgres
def test_the_loop_survives_code_that_replaces_the_current_loop(
    postgres_env: str, invoke: Invoke
) -> None:
    invoke(http_event(HTTP_API, "GET", "/api/v1/items"))
    pids = run(_backend_pids(postgres_env))

    # asyncio.run() leaves no current loop behind; Mangum would otherwise make a new
    # one, on which the pooled asyncpg connection could not be used.
    asyncio.run(asyncio.sleep(0))

    result = invoke(http_event(HTTP_API, "GET", "/api/v1/items"))
    assert result["statusCode"] == 200
    assert result_json(result)["total"] == 0
    assert run(_backend_pids(postgres_env)) == pids


def test_a_cold_request_is_lean_and_the_process_exits_cleanly(tmp_path: Path) -> None:
    """A request's cold path stays lean, and at exit the app is shut down without noise."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_SSM_PARAMETER")}
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        LOG_LEVEL="WARNING",
    )
    probe = (
        "import json, sys, lambda_handler; "
        "result = lambda_handler.handler(json.loads(sys.argv[1]), None); "
        f"print(sorted(m for m in {LAZY_MODULES!r} if m in sys.modules), result['statusCode'])"
    )
    event = json.dumps(http_event(HTTP_API, "GET", "/health"))
    completed = subprocess.run(
        [sys.executable, "-c", probe, event],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    # The cold path of a request loads neither Alembic nor boto3 (no SSM names set).
    assert completed.stdout.strip().endswith("[] 200")
    assert completed.stderr == ""
    assert "Task was destroyed" not in completed.stdout
