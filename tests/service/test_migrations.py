"""Alembic migrations: upgrade/downgrade on SQLite and PostgreSQL, and racing runners."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from service.migrations.revision import head_revision
from service.migrations.runner import MIGRATION_LOCK_KEY, downgrade_async, upgrade_async
from tests.service.conftest import make_settings, throwaway_database

# The newest migration: what `migrate` brings a database to.
HEAD = head_revision()

ROOT = Path(__file__).resolve().parents[2]


async def _tables(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def _versions(database_url: str) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def _round_trip(database_url: str) -> None:
    settings = make_settings(database_url=database_url)
    assert await upgrade_async(settings) == HEAD
    assert {"items", "alembic_version"} <= await _tables(database_url)
    assert await _versions(database_url) == [HEAD]
    assert await upgrade_async(settings) == HEAD  # idempotent at head

    assert await downgrade_async(settings) == "base"
    assert "items" not in await _tables(database_url)
    assert await _versions(database_url) == []

    assert await upgrade_async(settings) == HEAD
    assert "items" in await _tables(database_url)


async def test_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
async def test_upgrade_and_downgrade_on_postgres(services: dict[str, str]) -> None:
    async with throwaway_database(services["database_url"]) as database_url:
        await _round_trip(database_url)


async def _migrate_process(database_url: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ENVIRONMENT"}}
    env.update(DATABASE_URL=database_url, ENVIRONMENT="test", LOG_LEVEL="INFO")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


WAITING = b"migration lock held by another runner; waiting"


async def _read_until(runner: asyncio.subprocess.Process, marker: bytes) -> bytes:
    """The runner's standard output up to and including the first line holding ``marker``."""
    assert runner.stdout is not None
    seen = b""
    while marker not in seen:
        line = await runner.stdout.readline()
        if not line:
            break
        seen += line
    return seen


@pytest.mark.postgres
async def test_two_concurrent_migrate_runs_apply_each_migration_once(
    services: dict[str, str],
) -> None:
    """Both runners exit 0; the CREATE TABLE (which fails if run twice) ran once."""
    async with throwaway_database(services["database_url"]) as database_url:
        first, second = await asyncio.gather(
            _migrate_process(database_url), _migrate_process(database_url)
        )
        outputs = await asyncio.gather(first.communicate(), second.communicate())
        for process, (out, err) in zip((first, second), outputs, strict=True):
            assert process.returncode == 0, err.decode()
            assert f'"revision": "{HEAD}"'.encode() in out
        assert await _versions(database_url) == [HEAD]
        assert "items" in await _tables(database_url)


@pytest.mark.postgres
async def test_migrate_waits_for_the_advisory_lock(services: dict[str, str]) -> None:
    """While another session holds the lock, a runner blocks; it proceeds once released."""
    async with throwaway_database(services["database_url"]) as database_url:
        holder = create_async_engine(database_url)
        try:
            async with holder.connect() as connection:
                await connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await connection.commit()
                runner = await _migrate_process(database_url)
                # Wait for the runner to say it is waiting (a loaded machine may
                # take seconds to start it), not for a fixed time.
                seen = await asyncio.wait_for(_read_until(runner, WAITING), timeout=60)
                assert WAITING in seen
                await asyncio.sleep(0.5)
                assert runner.returncode is None, "migrate did not wait for the lock"
                assert "items" not in await _tables(database_url)
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await connection.commit()
                _, err = await asyncio.wait_for(runner.communicate(), timeout=30)
                assert runner.returncode == 0, err.decode()
        finally:
            await holder.dispose()
        assert await _versions(database_url) == [HEAD]
