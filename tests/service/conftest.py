"""Fixtures: one app + AsyncClient per backend, and helpers for outage scenarios.

Every test that takes ``client`` runs twice: on SQLite + the in-process cache
(always) and on the real PostgreSQL + Redis named by TEST_DATABASE_URL and
TEST_REDIS_URL. Without those the PostgreSQL runs are skipped with a message
saying how to enable them, unless REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from service.config import Settings
from service.main import create_app
from service.migrations.runner import upgrade

TEST_TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
HOW_TO_ENABLE = (
    "set TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/fastapi_test and "
    "TEST_REDIS_URL=redis://127.0.0.1:6379/15 to run the PostgreSQL/Redis tests"
)


def services_required() -> bool:
    """True in CI, where a missing PostgreSQL/Redis must fail the run."""
    return os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (REQUIRE_SERVICES=1) a test that needs a real service."""
    if services_required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(f"{reason}; {HOW_TO_ENABLE}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: ENVIRONMENT=test and a known token, plus ``overrides``."""
    values: dict[str, Any] = {
        "environment": "test",
        "api_token": TEST_TOKEN,
        "redis_url": None,
        "log_level": "INFO",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def open_client(settings: Settings, app: FastAPI | None = None) -> AsyncIterator[Any]:
    """Start an app's lifespan and yield an httpx client bound to it."""
    app = app or create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


# --- real services ---------------------------------------------------------------------


async def _probe(database_url: str, redis_url: str) -> str | None:
    engine = create_async_engine(database_url)
    try:
        async with asyncio.timeout(5), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        return f"PostgreSQL at TEST_DATABASE_URL is unreachable ({type(error).__name__}: {error})"
    finally:
        await engine.dispose()
    redis = Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(5):
            await redis.ping()
    except Exception as error:
        return f"Redis at TEST_REDIS_URL is unreachable ({type(error).__name__}: {error})"
    finally:
        await redis.aclose()
    return None


@pytest.fixture(scope="session")
def _services() -> dict[str, str] | str:
    """Probe the real services once; a string result explains why they are missing."""
    database_url = os.environ.get("TEST_DATABASE_URL", "").strip()
    redis_url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not database_url or not redis_url:
        return "TEST_DATABASE_URL and TEST_REDIS_URL are not set"
    problem = asyncio.run(_probe(database_url, redis_url))
    if problem:
        return problem
    upgrade(make_settings(database_url=database_url))
    return {"database_url": database_url, "redis_url": redis_url}


@pytest.fixture
def services(_services: dict[str, str] | str) -> dict[str, str]:
    """TEST_DATABASE_URL/TEST_REDIS_URL, migrated; skips or fails when unavailable."""
    if isinstance(_services, str):
        unavailable(_services)
        raise AssertionError("unreachable")
    return _services


async def reset_services(database_url: str, redis_url: str) -> None:
    """Empty the items table and the test Redis database between tests."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE items RESTART IDENTITY"))
    finally:
        await engine.dispose()
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@asynccontextmanager
async def throwaway_database(database_url: str) -> AsyncIterator[str]:
    """Create an empty PostgreSQL database next to TEST_DATABASE_URL's; drop it after."""
    name = f"fastapi_tmp_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(database_url).set(database="postgres")
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


# --- per-backend app and client --------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(make_settings(database_url=f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database + cache pair the test runs against."""
    return str(request.param)


@pytest.fixture
def settings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Settings:
    """Settings for the backend under test, pointing at an empty, migrated database."""
    if backend == "sqlite":
        database = tmp_path / "app.db"
        shutil.copy(sqlite_template, database)
        return make_settings(database_url=f"sqlite+aiosqlite:///{database}")
    real = request.getfixturevalue("services")
    return make_settings(database_url=real["database_url"], redis_url=real["redis_url"])


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Any]:
    """An httpx AsyncClient talking to a freshly started app (``client.app``)."""
    if settings.redis_url:
        await reset_services(settings.database_url, settings.redis_url)
    async with open_client(settings) as http:
        yield http


@pytest.fixture
async def redis_client(services: dict[str, str]) -> AsyncIterator[Redis]:
    """A raw client on the test Redis database, to observe what the service stored."""
    redis = Redis.from_url(services["redis_url"])
    try:
        yield redis
    finally:
        await redis.aclose()


# --- network fault injection ----------------------------------------------------------


class TcpProxy:
    """A TCP forwarder that can be stopped and restarted on the same port.

    Stopping it closes the listener and every open connection, which to the
    service looks exactly like the database or Redis going away.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        """Forward to ``target_host:target_port`` from a free local port."""
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (again) on ``self.port``."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Stop listening and cut every connection."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            self._writers.clear()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def blackhole() -> AsyncIterator[int]:
    """A port that accepts connections and never answers (a hung dependency)."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in held:
            writer.close()


@pytest.fixture
def closed_port() -> int:
    """A port with nothing listening: connections are refused at once."""
    return free_port()
