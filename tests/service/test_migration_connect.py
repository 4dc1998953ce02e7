"""The migration runner waits for a database that is not accepting connections yet.

On a Lambda stack's first deploy the migrate invocation can run before the RDS
Proxy target is AVAILABLE: the proxy accepts TCP and then drops or fails the
session. MIGRATION_CONNECT_TIMEOUT_SECONDS (set on the migrate function only)
makes the runner retry its first connection for that long. Here a local TCP
gate in front of the real PostgreSQL drops every connection until it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import make_url

from service.migrations.runner import upgrade_async
from tests.service.conftest import make_settings, throwaway_database


@dataclass
class Gate:
    """A TCP forwarder to PostgreSQL that drops connections until ``opens_at``."""

    target_host: str
    target_port: int
    opens_at: float
    dropped: int = 0
    forwarded: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Drop the client while closed; afterwards pipe both ways to PostgreSQL."""
        if time.monotonic() < self.opens_at:
            self.dropped += 1
            writer.close()
            return
        self.forwarded += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(
            self.target_host, self.target_port
        )

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@contextlib.asynccontextmanager
async def gated(database_url: str, closed_for: float) -> AsyncIterator[tuple[str, Gate]]:
    """``database_url`` rewritten to go through a gate closed for ``closed_for`` seconds."""
    url = make_url(database_url)
    gate = Gate(url.host or "127.0.0.1", url.port or 5432, time.monotonic() + closed_for)
    server = await asyncio.start_server(gate.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield url.set(port=port).render_as_string(hide_password=False), gate
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.postgres
async def test_migrate_waits_for_a_database_that_opens_late(services: dict[str, str]) -> None:
    """Defect 4: the first deploy's migration succeeds once the database accepts sessions."""
    async with (
        throwaway_database(services["database_url"]) as database_url,
        gated(database_url, closed_for=2.5) as (through_gate, gate),
    ):
        settings = make_settings(database_url=through_gate, migration_connect_timeout_seconds=30)
        started = time.monotonic()
        revision = await upgrade_async(settings)
        assert time.monotonic() - started >= 2.0
        assert revision != "base"
        assert gate.dropped >= 2, "the runner should have retried while the gate was closed"
        assert gate.forwarded >= 1


@pytest.mark.postgres
async def test_without_a_connect_timeout_the_first_failure_is_final(
    services: dict[str, str],
) -> None:
    """The default (0) keeps `serve` and `migrate` failing fast, as before."""
    async with (
        throwaway_database(services["database_url"]) as database_url,
        gated(database_url, closed_for=60) as (through_gate, gate),
    ):
        settings = make_settings(database_url=through_gate)
        assert settings.migration_connect_timeout_seconds == 0
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver raises
            await upgrade_async(settings)
        assert time.monotonic() - started < 5
        assert gate.dropped == 1


@pytest.mark.postgres
async def test_a_database_that_never_opens_fails_after_the_timeout(
    services: dict[str, str],
) -> None:
    """The wait is bounded: past MIGRATION_CONNECT_TIMEOUT_SECONDS the error surfaces."""
    async with (
        throwaway_database(services["database_url"]) as database_url,
        gated(database_url, closed_for=60) as (through_gate, gate),
    ):
        settings = make_settings(database_url=through_gate, migration_connect_timeout_seconds=2)
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver raises
            await upgrade_async(settings)
        waited = time.monotonic() - started
        assert 2 <= waited < 10
        assert gate.dropped >= 2
