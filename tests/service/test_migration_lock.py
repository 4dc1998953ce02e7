"""The migration runner gives up on a held advisory lock after MIGRATION_LOCK_TIMEOUT_SECONDS."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from service.config import ConfigError, Settings
from service.migrations.revision import head_revision
from service.migrations.runner import (
    MIGRATION_LOCK_KEY,
    MigrationLockTimeoutError,
    upgrade_async,
)
from tests.service.conftest import make_settings, throwaway_database

# The newest migration: what `migrate` brings a database to.
HEAD = head_revision()


@pytest.mark.postgres
async def test_migrate_fails_clearly_when_the_lock_is_held_too_long(
    services: dict[str, str],
) -> None:
    async with throwaway_database(services["database_url"]) as database_url:
        holder = create_async_engine(database_url)
        try:
            async with holder.connect() as connection:
                await connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await connection.commit()
                settings = make_settings(
                    database_url=database_url, migration_lock_timeout_seconds=1.2
                )
                started = time.monotonic()
                with pytest.raises(MigrationLockTimeoutError) as raised:
                    await upgrade_async(settings)
                waited = time.monotonic() - started
                assert 1.2 <= waited < 5
                assert "MIGRATION_LOCK_TIMEOUT_SECONDS" in str(raised.value)
                assert "1.2 s" in str(raised.value)
                # Nothing was migrated while the other runner held the lock.
                tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
                assert "items" not in tables
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await connection.commit()
            # Released: the next runner takes the lock at once and migrates.
            assert await upgrade_async(settings) == HEAD
        finally:
            await holder.dispose()


def test_the_lock_timeout_setting_is_bounded() -> None:
    assert Settings(environment="test").migration_lock_timeout_seconds == 300
    for bad in (0, -1, 3601):
        with pytest.raises((ConfigError, ValueError), match="migration_lock_timeout_seconds"):
            make_settings(migration_lock_timeout_seconds=bad)
