"""Real services of their own for each pytest-xdist worker.

``make test`` runs the suite in several worker processes (``-n``). Tests that
use TEST_DATABASE_URL's database truncate its tables, and tests that use
TEST_REDIS_URL's database flush it, so two workers sharing them would wipe
each other's data. Each worker therefore rewrites both variables, before any
test or subprocess reads them:

- PostgreSQL: ``fastapi_test`` becomes ``fastapi_test_gw0``, ``fastapi_test_gw1``…
  on the same server, dropped and created again when the worker starts;
- Redis: logical database ``15`` becomes ``15`` for gw0, ``14`` for gw1… (the
  URL's database minus the worker's index).

A serial run (no ``-n``, or ``-n 0``) has no worker and leaves both untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import urllib.parse
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

WORKER_ID = re.compile(r"gw(\d+)")


def worker_index(worker: str) -> int:
    """The number in an xdist worker id: 0 for ``gw0``."""
    match = WORKER_ID.fullmatch(worker)
    if match is None:
        raise ValueError(f"not a pytest-xdist worker id: {worker!r}")
    return int(match.group(1))


def worker_database_url(database_url: str, worker: str) -> str:
    """``database_url`` naming the worker's own database: ``<database>_<worker>``."""
    url = make_url(database_url)
    if not url.database:
        raise ValueError(f"TEST_DATABASE_URL names no database: {database_url!r}")
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


def worker_redis_url(redis_url: str, worker: str) -> str:
    """``redis_url`` with the logical database lowered by the worker's index (15, 14, …)."""
    parts = urllib.parse.urlsplit(redis_url)
    path = parts.path.strip("/")
    base = int(path) if path else 0
    database = base - worker_index(worker)
    if database < 0:
        raise ValueError(
            f"TEST_REDIS_URL's database {base} leaves none for worker {worker}: name a "
            "higher one (redis://…/15 gives 16 workers one each) or run fewer workers"
        )
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


async def recreate_database(database_url: str) -> None:
    """Drop ``database_url``'s database if it exists (even in use) and create it empty."""
    url = make_url(database_url)
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(30), admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        await admin.dispose()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` on a loop of its own, leaving the main thread's loop as it was.

    ``asyncio.run`` would unset it, and sync tests that expect ``get_event_loop()``
    to give them one (as in a serial run) would find none.
    """
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coroutine)
    finally:
        loop.close()


def isolate_worker(worker: str) -> None:
    """Point TEST_DATABASE_URL and TEST_REDIS_URL at the worker's own, fresh, databases.

    A server that cannot be reached is left for the tests that need it to
    report (skip, or fail under REQUIRE_SERVICES=1): the URL still names the
    worker's database, so no test falls back on the shared one.
    """
    database_url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if database_url:
        own = worker_database_url(database_url, worker)
        os.environ["TEST_DATABASE_URL"] = own
        # On failure the tests that need PostgreSQL probe the URL and report it
        # (unreachable, or "database fastapi_test_gw0 does not exist"): skip, or fail in CI.
        with contextlib.suppress(Exception):
            _run(recreate_database(own))
    redis_url = os.environ.get("TEST_REDIS_URL", "").strip()
    if redis_url:
        os.environ["TEST_REDIS_URL"] = worker_redis_url(redis_url, worker)
