"""The benchmark's count of PostgreSQL connections opened during a run, on the real server."""

from __future__ import annotations

import asyncio
import os

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from sqlalchemy.engine import make_url

from bench import http_load
from bench.http_load import ConnectionWatch, LoadResult
from tests.service.conftest import throwaway_database, unavailable

RESULT = LoadResult(
    requests_per_second=1.0, p50_ms=1.0, p99_ms=1.0, requests=1, bad_responses=0, socket_errors=0
)


@pytest.fixture
async def database() -> object:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        unavailable("TEST_DATABASE_URL is not set")
    async with throwaway_database(url) as database_url:
        yield database_url


def dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


def watch(database_url: str) -> ConnectionWatch:
    admin = make_url(database_url).set(database="postgres").render_as_string(False)
    return ConnectionWatch(admin, database_url)


async def test_connections_open_before_the_run_are_not_counted(database: str) -> None:
    held = [await asyncpg.connect(dsn(database)) for _ in range(3)]
    try:

        def run() -> LoadResult:
            async def use() -> None:
                for connection in held:
                    await connection.fetchval("SELECT 1")

            asyncio.run_coroutine_threadsafe(use(), loop).result()
            return RESULT

        loop = asyncio.get_running_loop()
        result, opened = await asyncio.to_thread(watch(database).during, run)
    finally:
        for connection in held:
            await connection.close()
    assert (result, opened) == (RESULT, 0)


async def test_connections_opened_in_the_run_and_still_open_are_counted(database: str) -> None:
    opened_now: list[object] = []

    def run() -> LoadResult:
        async def open_two() -> None:
            opened_now.extend([await asyncpg.connect(dsn(database)) for _ in range(2)])

        asyncio.run_coroutine_threadsafe(open_two(), loop).result()
        return RESULT

    loop = asyncio.get_running_loop()
    try:
        _, opened = await asyncio.to_thread(watch(database).during, run)
    finally:
        for connection in opened_now:
            await connection.close()  # type: ignore[attr-defined]
    assert opened == 2


async def test_churn_is_seen_though_each_connection_is_short_lived(database: str) -> None:
    def run() -> LoadResult:
        async def churn() -> None:
            for _ in range(20):  # a connection per "request", as an overflowing pool does
                connection = await asyncpg.connect(dsn(database))
                await connection.fetchval("SELECT pg_sleep(0.02)")
                await connection.close()

        asyncio.run_coroutine_threadsafe(churn(), loop).result()
        return RESULT

    loop = asyncio.get_running_loop()
    _, opened = await asyncio.to_thread(watch(database).during, run)
    assert opened >= 1


class ScriptedWatch:
    """A ConnectionWatch stand-in whose runs open the given numbers of connections."""

    def __init__(self, opens: list[int]) -> None:
        self.opens = opens
        self.runs = 0

    def during(self, run: object) -> tuple[LoadResult, int]:
        self.runs += 1
        return RESULT, self.opens.pop(0)


@pytest.mark.parametrize(
    ("opens", "runs"),
    [([0], 1), ([15, 2, 0], 3), ([3] * http_load.MAX_WARMUPS, http_load.MAX_WARMUPS)],
)
def test_warm_up_repeats_until_the_pool_stops_growing(opens: list[int], runs: int) -> None:
    watch = ScriptedWatch(list(opens))
    http_load._warm_up(watch, "wrk", "http://127.0.0.1:1/", 0.1, None)  # type: ignore[arg-type]
    assert watch.runs == runs
