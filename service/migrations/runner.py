"""Apply migrations exactly once, even when several runners start together.

On PostgreSQL every run holds a session-level advisory lock for its whole
duration: a second runner waits (at most MIGRATION_LOCK_TIMEOUT_SECONDS), then
finds the schema at head and does nothing. SQLite (development, tests) has a
single writer and needs no lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from service.config import Settings
from service.logging import get_logger

T = TypeVar("T")

# Arbitrary but fixed 63-bit key: every runner of this service contends on it.
MIGRATION_LOCK_KEY = 0x6661_7374_6170_6931
SCRIPT_LOCATION = Path(__file__).resolve().parent
# How often a waiting runner retries the lock.
LOCK_POLL_SECONDS = 0.5
# First and longest pause between connection attempts (doubling in between).
CONNECT_RETRY_FIRST_SECONDS = 1.0
CONNECT_RETRY_MAX_SECONDS = 15.0

log = get_logger("migrations")


class MigrationLockTimeoutError(RuntimeError):
    """Another runner held the migration lock for longer than the configured wait."""


async def acquire_lock(connection: AsyncConnection, timeout_seconds: float) -> None:
    """Take the advisory lock, retrying until ``timeout_seconds`` have passed.

    ``pg_try_advisory_lock`` in a loop rather than ``pg_advisory_lock``, which
    waits forever: a runner stuck holding the lock would hang every later one.
    """
    key = {"key": MIGRATION_LOCK_KEY}
    deadline = time.monotonic() + timeout_seconds
    announced = False
    while not await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MigrationLockTimeoutError(
                f"could not take the migration lock within {timeout_seconds:g} s "
                "(MIGRATION_LOCK_TIMEOUT_SECONDS): another migration runner still holds it. "
                "Wait for it to finish, or end the PostgreSQL session holding advisory "
                f"lock {MIGRATION_LOCK_KEY}, then retry."
            )
        if not announced:
            log.info("migration lock held by another runner; waiting", timeout=timeout_seconds)
            announced = True
        await asyncio.sleep(min(LOCK_POLL_SECONDS, remaining))


async def connect(engine: AsyncEngine, timeout_seconds: float) -> AsyncConnection:
    """Open a connection, retrying any failure until ``timeout_seconds`` have passed.

    Any error is retried, not only refused connections: behind RDS Proxy a
    target that is not yet AVAILABLE shows up as a timeout or an error from the
    proxy after the TCP handshake. With a timeout of 0 the first failure is final.
    """
    deadline = time.monotonic() + timeout_seconds
    pause = CONNECT_RETRY_FIRST_SECONDS
    attempt = 1
    while True:
        try:
            # Started here (not by `async with`), so a failure can be retried.
            return await engine.connect().start()
        except Exception as error:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if attempt > 1:
                    log.error(
                        "database still unreachable; giving up",
                        attempts=attempt,
                        timeout=timeout_seconds,
                    )
                raise
            log.warning(
                "database not reachable yet; retrying",
                attempt=attempt,
                error=type(error).__name__,
                retry_in=round(min(pause, remaining), 1),
            )
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, CONNECT_RETRY_MAX_SECONDS)
            attempt += 1


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at this package; no alembic.ini is needed."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def current_revision(connection: Connection) -> str:
    """The revision the database is at, or ``"base"`` for an empty schema."""
    return MigrationContext.configure(connection).get_current_revision() or "base"


async def run_locked(settings: Settings, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on one connection while holding the migration lock."""
    engine = create_async_engine(settings.sqlalchemy_url(), poolclass=NullPool)
    try:
        connection = await connect(engine, settings.migration_connect_timeout_seconds)
        try:
            locking = connection.dialect.name == "postgresql"
            if locking:
                key = {"key": MIGRATION_LOCK_KEY}
                await acquire_lock(connection, settings.migration_lock_timeout_seconds)
                # End the implicit transaction so Alembic manages its own.
                await connection.commit()
            try:
                return await connection.run_sync(work)
            finally:
                if locking:
                    await connection.rollback()
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                    await connection.commit()
        finally:
            await connection.close()
    finally:
        await engine.dispose()


async def upgrade_async(settings: Settings, revision: str = "head") -> str:
    """Upgrade to ``revision`` under the lock; return the revision reached."""

    def work(connection: Connection) -> str:
        command.upgrade(alembic_config(connection), revision)
        return current_revision(connection)

    reached = await run_locked(settings, work)
    log.info("database migrated", revision=reached)
    return reached


async def downgrade_async(settings: Settings, revision: str = "base") -> str:
    """Downgrade to ``revision`` under the lock; return the revision reached."""

    def work(connection: Connection) -> str:
        command.downgrade(alembic_config(connection), revision)
        return current_revision(connection)

    reached = await run_locked(settings, work)
    log.info("database downgraded", revision=reached)
    return reached


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from async code (e.g. a Lambda handler under an event loop): use a
    # private loop on another thread rather than failing.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def upgrade(settings: Settings, revision: str = "head") -> str:
    """Upgrade the database to head (or ``revision``) and return the revision reached."""
    return _run(upgrade_async(settings, revision))


def downgrade(settings: Settings, revision: str = "base") -> str:
    """Downgrade the database to ``revision`` (default: empty) and return it."""
    return _run(downgrade_async(settings, revision))
