"""Fixtures for fault injection against the real services.

Nothing here touches the machine's shared Redis or PostgreSQL processes: each
test gets its own ``redis-server`` on a free port, a throwaway PostgreSQL
database next to TEST_DATABASE_URL's, and a TCP proxy in front of PostgreSQL
that can drop every connection, refuse new ones, or delay replies.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from service.config import Settings
from service.main import create_app
from service.migrations.runner import upgrade_async

TOKEN = "resilience-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOW_TO_ENABLE = (
    "set TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/fastapi_test "
    "and install redis-server to run the resilience tests"
)


def unavailable(reason: str) -> None:
    """Fail under REQUIRE_SERVICES=1 (CI), otherwise skip saying how to enable the test."""
    if os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(f"{reason}; {HOW_TO_ENABLE}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def port_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def eventually(probe: Any, *, within: float, every: float = 0.05) -> Any:
    """Await ``probe()`` until it returns a truthy value; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s (last result: {result!r})")
        await asyncio.sleep(every)


# --- Redis ----------------------------------------------------------------------------


class RedisServer:
    """A private ``redis-server`` that can be killed and started again on the same port."""

    def __init__(self, binary: str) -> None:
        """Pick a free port; nothing runs until :meth:`start`."""
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start in the foreground (no persistence) and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server (SIGKILL: an outage, not a clean shutdown) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A running private redis-server; stopped after the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not on PATH")
        raise AssertionError("unreachable")
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL -----------------------------------------------------------------------


class FaultProxy:
    """A TCP proxy to PostgreSQL that can go away, come back, and delay replies.

    :meth:`stop` closes the listener and every open connection, which to the
    service looks exactly like the database host going down; :meth:`start`
    brings it back on the same port. ``delay`` seconds are added before each
    chunk sent back to the client.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        """Forward to ``target_host:target_port`` from a free local port."""
        self.target = (target_host, target_port)
        self.port = free_port()
        self.delay = 0.0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen (again) on ``self.port``."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Stop listening and cut every connection at once."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.transport.abort()
                return
            self._writers.update({writer, up_writer})
            await asyncio.gather(
                self._pipe(reader, up_writer, delayed=False),
                self._pipe(up_reader, writer, delayed=True),
            )
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if delayed and self.delay:
                    await asyncio.sleep(self.delay)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()
            self._writers.discard(sink)


@pytest.fixture
def postgres_url() -> str:
    """TEST_DATABASE_URL; skips or fails when it is not set."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        unavailable("TEST_DATABASE_URL is not set")
    return url


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[str]:
    """A throwaway, migrated database next to TEST_DATABASE_URL's; dropped afterwards."""
    name = f"fastapi_res_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(
        make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with asyncio.timeout(10), admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        await admin.dispose()
        unavailable(f"PostgreSQL at TEST_DATABASE_URL is unreachable ({error!r})")
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_async(Settings(environment="test", database_url=url))
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def pg_proxy(database: str) -> AsyncIterator[FaultProxy]:
    """A running :class:`FaultProxy` in front of the throwaway database's server."""
    url = make_url(database)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


def through(proxy: FaultProxy, database_url: str) -> str:
    """``database_url`` rewritten to go through ``proxy``."""
    return (
        make_url(database_url)
        .set(host="127.0.0.1", port=proxy.port)
        .render_as_string(hide_password=False)
    )


def make_settings(**overrides: Any) -> Settings:
    """Test settings with a known token and a short cache timeout, plus ``overrides``."""
    values: dict[str, Any] = {
        "environment": "test",
        "api_token": TOKEN,
        "redis_url": None,
        "log_level": "WARNING",
        "cache_timeout_seconds": 0.25,
        "readiness_timeout_seconds": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan in-process and yield a client bound to it."""
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=15
        ) as client:
            yield client
