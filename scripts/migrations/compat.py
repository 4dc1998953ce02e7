"""The previous release against the new schema: migrations that never break a running release.

During a deploy the previous release keeps serving while the new one migrates,
and a rollback runs it against the new schema for good. This run proves both
work for the current tree:

1. the previous release = the newest commit before HEAD's that changed
   ``service/`` (or ``--previous REV``), checked out as a git worktree;
2. a fresh PostgreSQL database is migrated to the **new** head by this tree;
3. the previous release's service (its own code, ``MIGRATE_ON_START=false``)
   serves on a free port against it, and its HTTP contract is exercised:
   health, readiness, create, read, update, list, delete, 404 after delete;
4. the newest migration is downgraded and upgraded again (it must be reversible).

    python -m scripts.migrations.compat [--previous REV] [--admin-url URL]

The previous code runs with the current lock's dependencies (one venv): the
contract under test is the schema, not the libraries. Needs PostgreSQL
(``--admin-url`` or ``TEST_DATABASE_URL``'s server; default 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "migration-compat-token"  # noqa: S105 - a throwaway token for a local run


class CompatError(RuntimeError):
    """The previous release does not survive the new schema (or the run could not start)."""


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def previous_release(tree: Path = ROOT) -> str:
    """The newest commit before the last one that changed service/ (that release's code)."""
    changes = _git("rev-list", "-n", "2", "HEAD", "--", "service/", cwd=tree).split()
    if len(changes) < 2:
        raise CompatError(
            "no previous release: service/ has fewer than two commits in this history "
            "(a shallow clone? fetch the full history, or pass --previous REV)"
        )
    return changes[1]


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _run_sql(admin_url: str, statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def _fetch_value(url: str, query: str) -> Any:
    async def run() -> Any:
        connection = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            return await connection.fetchval(query)
        finally:
            await connection.close()

    return asyncio.run(run())


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """An empty database next to ``admin_url``'s; dropped afterwards."""
    name = f"migcompat_{uuid.uuid4().hex[:12]}"
    _run_sql(admin_url, f'CREATE DATABASE "{name}"')
    base, _, _ = _asyncpg_dsn(admin_url).rpartition("/")
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        _run_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out in a temporary git worktree."""
    with tempfile.TemporaryDirectory(prefix="previous-release-") as parent:
        path = Path(parent) / "tree"
        _git("worktree", "add", "--detach", str(path), revision)
        try:
            yield path
        finally:
            _git("worktree", "remove", "--force", str(path))


def _service_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "API_TOKEN", "MIGRAT"))
    }
    env.update(
        ENVIRONMENT="development",
        DATABASE_URL=database_url,
        API_TOKEN=TOKEN,
        LOG_LEVEL="WARNING",
        PYTHONPATH="",
        **extra,
    )
    return env


def service_command(tree: Path, *args: str, database_url: str) -> None:
    """``python -m service <args>`` from ``tree``; raise with its output on failure."""
    completed = subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=tree,
        env=_service_env(database_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise CompatError(
            f"`python -m service {' '.join(args)}` failed in {tree}:\n"
            f"{(completed.stdout + completed.stderr)[-2000:]}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _request(
    method: str, url: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any] | None]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - 127.0.0.1
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, {"raw": raw[:200].decode(errors="replace")}


def _expect(what: str, got: int, want: int, body: object) -> None:
    if got != want:
        raise CompatError(f"previous release on the new schema: {what} answered {got}: {body}")
    print(f"  ok  {what} -> {got}")


def http_contract(base: str) -> None:
    """The previous release's HTTP contract: health, readiness, CRUD, 404 after delete."""
    status, body = _request("GET", f"{base}/health")
    _expect("GET /health", status, 200, body)
    status, body = _request("GET", f"{base}/health/ready")
    _expect("GET /health/ready", status, 200, body)
    name = f"compat-{uuid.uuid4().hex[:8]}"
    status, created = _request(
        "POST", f"{base}/api/v1/items", {"name": name, "description": "compat", "price": "1.50"}
    )
    _expect("POST /api/v1/items", status, 201, created)
    assert created is not None
    item = f"{base}/api/v1/items/{created['id']}"
    status, body = _request("GET", item)
    _expect("GET the item", status, 200, body)
    status, body = _request("PATCH", item, {"price": "2.25"})
    _expect("PATCH the item", status, 200, body)
    status, body = _request("GET", f"{base}/api/v1/items?limit=100")
    _expect("GET /api/v1/items", status, 200, body)
    listed = json.dumps(body)
    if name not in listed:
        raise CompatError(f"the list does not show the item created: {listed[:300]}")
    status, body = _request("DELETE", item)
    _expect("DELETE the item", status, 204, body)
    status, body = _request("GET", item)
    _expect("GET the deleted item", status, 404, body)


@contextlib.contextmanager
def serving(tree: Path, database_url: str) -> Iterator[str]:
    """The service of ``tree`` on a free port, not migrating; yields its base URL."""
    port = _free_port()
    env = _service_env(database_url, MIGRATE_ON_START="false", HOST="127.0.0.1", PORT=str(port))
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=tree,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise CompatError(
                        f"the previous release exited at start:\n{log.read()[-2000:]}"
                    )
                with contextlib.suppress(OSError):
                    if _request("GET", f"{base}/health")[0] == 200:
                        break
                if time.monotonic() > deadline:
                    raise CompatError("the previous release did not answer /health within 60 s")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def run(previous: str, admin_url: str, tree: Path = ROOT) -> None:
    """Every step above; raise ``CompatError`` naming the first that fails."""
    # The previous release is a commit of this repository; ``tree`` is the new code
    # (this checkout, or a copy of it with one more migration in the tests).
    short = _git("rev-parse", "--short", previous)
    print(f"previous release: {short} ({_git('log', '-1', '--format=%s', previous)})")
    with fresh_database(admin_url) as database_url, worktree(previous) as old:
        service_command(tree, "migrate", database_url=database_url)
        head = _fetch_value(database_url, "SELECT version_num FROM alembic_version")
        print(f"migrated a fresh database to the new head: {head}")
        with serving(old, database_url) as base:
            print(f"previous release ({short}) serving on the new schema at {base}:")
            http_contract(base)
        service_command(tree, "downgrade", "-1", database_url=database_url)
        down = _fetch_value(
            database_url,
            "SELECT CASE WHEN to_regclass('alembic_version') IS NULL THEN NULL "
            "ELSE (SELECT max(version_num) FROM alembic_version) END",
        )
        print(f"downgraded the newest migration: now at {down or 'base'}")
        service_command(tree, "migrate", database_url=database_url)
        again = _fetch_value(database_url, "SELECT version_num FROM alembic_version")
        if again != head:
            raise CompatError(f"upgrade after downgrade reached {again}, not {head}")
        print(f"upgraded again: {again}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previous", help="the previous release (default: found from git)")
    parser.add_argument(
        "--admin-url",
        default=None,
        help="a PostgreSQL URL whose server may create databases (default: TEST_DATABASE_URL's "
        f"server, else {DEFAULT_ADMIN_URL})",
    )
    options = parser.parse_args(argv)
    admin = options.admin_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    try:
        run(options.previous or previous_release(), admin)
    except CompatError as error:
        print(f"\nmigration compatibility FAILED: {error}", file=sys.stderr)
        return 1
    print("\nmigration compatibility: the previous release survives the new schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
