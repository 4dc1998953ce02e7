"""Each pytest-xdist worker has PostgreSQL and Redis databases of its own (tests/workers.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.workers import worker_database_url, worker_index, worker_redis_url

ROOT = Path(__file__).resolve().parents[1]
# Where the probe below writes what it saw, when a test here runs it in a subprocess.
PROBE_RECORD = "WORKER_PROBE_RECORD"
PROBE = "tests/test_workers.py::test_this_process_uses_its_own_databases"
# Plugins the runs below do not use: most of a pytest process's start-up time, times three.
QUICK_START = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")


def _required(name: str) -> str:
    """The variable's value; skip without it, or fail under REQUIRE_SERVICES=1 (CI)."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    reason = f"{name} is not set: set it as for the other PostgreSQL/Redis tests"
    if os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(reason)


# --- the names ---------------------------------------------------------------------------


def test_worker_databases_are_named_after_the_worker() -> None:
    url = "postgresql+asyncpg://postgres:secret@127.0.0.1:5432/fastapi_test"
    assert worker_database_url(url, "gw0") == (
        "postgresql+asyncpg://postgres:secret@127.0.0.1:5432/fastapi_test_gw0"
    )
    assert make_url(worker_database_url(url, "gw11")).database == "fastapi_test_gw11"
    with pytest.raises(ValueError, match="names no database"):
        worker_database_url("postgresql+asyncpg://postgres@127.0.0.1:5432", "gw0")


def test_worker_redis_databases_count_down_from_the_urls() -> None:
    assert worker_redis_url("redis://127.0.0.1:6379/15", "gw0") == "redis://127.0.0.1:6379/15"
    assert worker_redis_url("redis://127.0.0.1:6379/15", "gw1") == "redis://127.0.0.1:6379/14"
    assert worker_redis_url("redis://:pw@cache:6379/3?x=1", "gw3") == "redis://:pw@cache:6379/0?x=1"
    with pytest.raises(ValueError, match="leaves none for worker gw4"):
        worker_redis_url("redis://127.0.0.1:6379/3", "gw4")
    with pytest.raises(ValueError, match="leaves none for worker gw1"):
        worker_redis_url("redis://127.0.0.1:6379", "gw1")


def test_only_xdist_worker_ids_are_accepted() -> None:
    assert worker_index("gw0") == 0
    assert worker_index("gw12") == 12
    for bad in ("master", "gw", "gw-1", "gw1x"):
        with pytest.raises(ValueError, match="not a pytest-xdist worker id"):
            worker_index(bad)


# --- in the running suite ----------------------------------------------------------------


def test_this_process_uses_its_own_databases(request: pytest.FixtureRequest) -> None:
    """A worker's URLs name its own databases; a serial run's are left as they were given."""
    database_url = _required("TEST_DATABASE_URL")
    redis_url = _required("TEST_REDIS_URL")
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if record := os.environ.get(PROBE_RECORD):
        with open(record, "a", encoding="utf-8") as out:
            out.write(json.dumps([worker, database_url, redis_url]) + "\n")
    database = make_url(database_url).database or ""
    if worker is None:
        assert not re.search(r"_gw\d+$", database), "a serial run must use TEST_DATABASE_URL"
    else:
        assert database.endswith(f"_{worker}")
        assert os.environ["PYTEST_XDIST_WORKER"] == worker


# --- a real run with two workers -----------------------------------------------------------


def _pytest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *QUICK_START, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


async def _admin(database_url: str, *statements: str) -> None:
    engine = create_async_engine(
        make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _admin_in(database_url: str, statement: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _tables(database_url: str) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_two_workers_get_fresh_databases_of_their_own(tmp_path: Path) -> None:
    """``-n 2``: gw0 and gw1 on ``<db>_gw0``/``<db>_gw1`` (recreated) and Redis 15/14."""
    server = make_url(_required("TEST_DATABASE_URL"))
    # Not this run's database: the workers below drop and create theirs.
    base = server.set(database=f"fastapi_probe_{uuid.uuid4().hex[:8]}")
    base_url = base.render_as_string(hide_password=False)
    gw0, gw1 = (worker_database_url(base_url, worker) for worker in ("gw0", "gw1"))
    record = tmp_path / "record.jsonl"
    env = dict(os.environ)
    env.update(
        TEST_DATABASE_URL=base_url,
        TEST_REDIS_URL="redis://127.0.0.1:6379/15",
        **{PROBE_RECORD: str(record)},
    )
    try:
        # A leftover from an earlier run: the worker must start from an empty database.
        asyncio.run(_admin(base_url, f'CREATE DATABASE "{base.database}_gw0"'))
        asyncio.run(_admin_in(gw0, "CREATE TABLE leftover (id int)"))
        result = _pytest("-n", "2", "--dist", "each", PROBE, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"^=* ?2 passed", result.stdout, re.MULTILINE), result.stdout

        seen = sorted(json.loads(line) for line in record.read_text().splitlines())
        assert seen == [
            ["gw0", gw0, "redis://127.0.0.1:6379/15"],
            ["gw1", gw1, "redis://127.0.0.1:6379/14"],
        ]
        assert asyncio.run(_tables(gw0)) == []
        assert asyncio.run(_tables(gw1)) == []
    finally:
        asyncio.run(
            _admin(
                base_url,
                f'DROP DATABASE IF EXISTS "{base.database}_gw0" WITH (FORCE)',
                f'DROP DATABASE IF EXISTS "{base.database}_gw1" WITH (FORCE)',
            )
        )


def test_an_unreachable_database_fails_every_worker_under_require_services() -> None:
    """REQUIRE_SERVICES=1 holds in the workers: a database test fails, never skips."""
    env = dict(os.environ)
    env.update(
        # Port 1 on loopback: nothing listens there, the connection is refused at once.
        TEST_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/fastapi_test",
        TEST_REDIS_URL="redis://127.0.0.1:1/15",
        REQUIRE_SERVICES="1",
    )
    test = "tests/service/test_health.py::test_ready_recovers_when_postgres_comes_back"
    result = _pytest("-n", "2", "--dist", "each", test, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    # The fixture that probes the database fails: an error in setup, in both workers.
    assert re.search(r"\b2 (failed|errors)\b", summary), result.stdout
    assert "skipped" not in summary
    assert "REQUIRE_SERVICES=1, so this is a failure" in result.stdout
