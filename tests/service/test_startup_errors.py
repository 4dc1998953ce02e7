"""`python -m service serve|migrate` against a database it cannot use: a short message.

Runs the real command as a subprocess, against a closed port and against a
private PostgreSQL that checks passwords (tests/service/scram_postgres.py).
Redis, by contrast, is optional at start: unreachable, it is one warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.migrations.revision import head_revision
from tests.service.conftest import free_port
from tests.service.scram_postgres import ScramPostgres, scram_postgres  # noqa: F401

# The newest migration: what `migrate` brings a database to.
HEAD = head_revision()

ROOT = Path(__file__).resolve().parents[2]
WRONG_PASSWORD = "wrong-pw-7f3a9c"


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    return {**env, "LOG_LEVEL": "INFO", **settings}


def cli(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m service *args`` with only ``settings`` as the service's environment."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=ROOT,
        env=_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_short_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Non-zero exit, one or two stderr lines containing ``fragments``, and no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("command", "extra"),
    [("migrate", {}), ("serve", {}), ("serve", {"MIGRATE_ON_START": "false"})],
    ids=["migrate", "serve", "serve-without-migrations"],
)
def test_a_refused_connection_is_one_message(command: str, extra: dict[str, str]) -> None:
    port = free_port()
    result = cli(
        command, DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/app", **extra
    )
    assert_short_error(result, f"127.0.0.1:{port}/app", "DATABASE_URL", "connection refused")


def test_the_traceback_comes_only_at_debug() -> None:
    port = free_port()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/app"
    result = cli("migrate", DATABASE_URL=url, LOG_LEVEL="DEBUG")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot use the database at 127.0.0.1:{port}/app")
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConnectionRefusedError" in result.stderr


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_wrong_password_is_named_and_never_printed(
    scram_postgres: ScramPostgres,  # noqa: F811
    command: str,
) -> None:
    result = cli(command, DATABASE_URL=scram_postgres.url(), DATABASE_PASSWORD=WRONG_PASSWORD)
    stderr = assert_short_error(
        result,
        f"127.0.0.1:{scram_postgres.port}/app",
        "password authentication failed",
        "DATABASE_PASSWORD",
    )
    assert WRONG_PASSWORD not in stderr + result.stdout


def test_a_wrong_password_in_the_url_is_never_printed(
    scram_postgres: ScramPostgres,  # noqa: F811
) -> None:
    url = f"postgresql+asyncpg://app:{WRONG_PASSWORD}@127.0.0.1:{scram_postgres.port}/app"
    result = cli("migrate", DATABASE_URL=url, LOG_LEVEL="DEBUG")
    assert "password authentication failed" in result.stderr
    assert WRONG_PASSWORD not in result.stderr + result.stdout


def test_a_missing_database_is_named(scram_postgres: ScramPostgres) -> None:  # noqa: F811
    result = cli(
        "migrate",
        DATABASE_URL=scram_postgres.url(database="no_such_db"),
        DATABASE_PASSWORD=scram_postgres.password,
    )
    assert_short_error(result, "no_such_db", "does not exist", "DATABASE_URL")


def test_the_right_password_migrates(scram_postgres: ScramPostgres) -> None:  # noqa: F811
    # The server really checks passwords: with the right one, the same command works.
    result = cli(
        "migrate", DATABASE_URL=scram_postgres.url(), DATABASE_PASSWORD=scram_postgres.password
    )
    assert result.returncode == 0, result.stderr
    assert f'"revision": "{HEAD}"' in result.stdout


def test_a_malformed_redis_url_is_fatal(tmp_path: Path) -> None:
    result = cli(
        "serve",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        REDIS_URL="redis://127.0.0.1:notaport/0",
    )
    assert result.returncode == 2
    assert "REDIS_URL: is not a valid Redis URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_redis_is_one_warning_and_the_service_starts(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"],
        cwd=ROOT,
        env=_env(
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            PORT=str(port),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.2)
        assert health.status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    warnings = [line for line in output.splitlines() if "cache unreachable at start-up" in line]
    assert len(warnings) == 1, output
    assert f"127.0.0.1:{redis_port}" in warnings[0]
    assert "Traceback" not in output
