"""Fixtures for driving ``lambda_handler.handler`` end to end.

Every test starts in a cold execution environment (the runtime is reset before
and after) with an environment built like the Lambda function's: settings come
from environment variables only. PostgreSQL tests run in throwaway databases
created next to TEST_DATABASE_URL's, so they never touch the service tests'
schema; they skip with a how-to message when TEST_DATABASE_URL is unset and
fail instead when REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import lambda_handler
import service.main
from service import lambda_runtime
from service.config import Settings
from service.lambda_runtime import reset_runtime

from .events import FakeContext

TOKEN = "lambda-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOW_TO_ENABLE = (
    "set TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/fastapi_test "
    "(and TEST_REDIS_URL=redis://127.0.0.1:6379/15 for the Redis test) to run them"
)

Invoke = Callable[[Any], dict[str, Any]]


def services_required() -> bool:
    """True in CI (REQUIRE_SERVICES=1), where a missing service is a failure."""
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip with a how-to message, or fail when REQUIRE_SERVICES=1."""
    if services_required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(f"{reason}; {HOW_TO_ENABLE}")


def free_port() -> int:
    """A local TCP port with nothing listening: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run(coroutine: Any) -> Any:
    """Run a coroutine on a private loop (fixtures are sync; the handler owns its own loop)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


async def _admin(database_url: str, *statements: str) -> None:
    admin_url = make_url(database_url).set(database="postgres")
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(10), engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """TEST_DATABASE_URL, checked reachable once; skips or fails when it is not."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        unavailable("TEST_DATABASE_URL is not set")
    try:
        run(_admin(url, "SELECT 1"))
    except Exception as error:
        unavailable(f"PostgreSQL at TEST_DATABASE_URL is unreachable ({type(error).__name__})")
    return url


@pytest.fixture
def throwaway_database(postgres_url: str) -> Iterator[str]:
    """An empty database of its own, next to TEST_DATABASE_URL's; dropped afterwards."""
    name = f"fastapi_lambda_{uuid.uuid4().hex[:12]}"
    run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        reset_runtime()  # release the runtime's pooled connections before the drop
        run(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(autouse=True)
def cold_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh execution environment: no runtime, no service settings in the environment."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    reset_runtime()
    yield
    reset_runtime()


@pytest.fixture
def invoke() -> Invoke:
    """Call the real entry point the way the Lambda runtime does, with a fresh context."""

    def call(event: Any) -> dict[str, Any]:
        return lambda_handler.handler(event, FakeContext())

    return call


@pytest.fixture(scope="session")
def migrated_database(postgres_url: str) -> Iterator[str]:
    """A database of its own for the HTTP tests, migrated once by the migrate event."""
    name = f"fastapi_lambda_{uuid.uuid4().hex[:12]}"
    run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for field in Settings.model_fields:
                patch.delenv(field.upper(), raising=False)
            patch.setenv("ENVIRONMENT", "test")
            patch.setenv("DATABASE_URL", url)
            result = lambda_handler.handler({"action": "migrate"}, FakeContext())
            reset_runtime()
        assert result["status"] == "ok", result
        yield url
    finally:
        reset_runtime()
        run(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_items(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE items RESTART IDENTITY"))
    finally:
        await engine.dispose()


@pytest.fixture
def postgres_env(migrated_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The function's environment on the migrated database, emptied for this test."""
    run(_empty_items(migrated_database))
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    return migrated_database


@dataclass
class StartupSpy:
    """Counts real start-up work: settings (and SSM) loads, and app lifespan start-ups."""

    settings_loads: int = 0
    app_startups: int = 0


@pytest.fixture
def startups(monkeypatch: pytest.MonkeyPatch) -> StartupSpy:
    """Wrap ``load_settings`` and the lifespan's engine creation with counters."""
    spy = StartupSpy()
    real_load = lambda_runtime.load_settings
    real_create_engine = service.main.create_engine

    def counting_load(*args: Any, **kwargs: Any) -> Settings:
        spy.settings_loads += 1
        return real_load(*args, **kwargs)

    def counting_create_engine(settings: Settings) -> Any:
        # Called by create_app's lifespan on start-up, and nowhere else.
        spy.app_startups += 1
        return real_create_engine(settings)

    monkeypatch.setattr(lambda_runtime, "load_settings", counting_load)
    monkeypatch.setattr(service.main, "create_engine", counting_create_engine)
    return spy
