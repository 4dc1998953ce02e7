"""An in-process app on a migrated SQLite file, and one on PostgreSQL for the unicode cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.config import Settings
from service.main import create_app
from service.migrations.runner import upgrade

# The throwaway PostgreSQL database of the resilience tests, reused here.
from tests.resilience.conftest import database, postgres_url  # noqa: F401

TOKEN = "fuzz-token-0123456789abcdef0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BODY_LIMIT = 4096


def fuzz_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings with a known token, a small body limit and quiet logs."""
    values: dict[str, Any] = {
        "environment": "test",
        "api_token": TOKEN,
        "database_url": database_url,
        "redis_url": None,
        "log_level": "ERROR",
        "max_body_bytes": BODY_LIMIT,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for this module."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(fuzz_settings(url))
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """The module's SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("database")
    return url


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[Any]:
    """An httpx client bound to a started app, on SQLite and on PostgreSQL."""
    app = create_app(fuzz_settings(database_url))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
