"""A private PostgreSQL that checks passwords (SCRAM), for the start-up error tests.

The shared PostgreSQL trusts every login, so a wrong password would go
unnoticed there. This one is started with ``initdb`` on a free port under a
temporary directory, with ``password_encryption=scram-sha-256`` and a single
``host all all 127.0.0.1/32 scram-sha-256`` rule, after the approach of
tests/image/conftest.py (without TLS). initdb refuses to run as root, so as
root it runs as the ``postgres`` OS user. Without initdb the tests that need
it skip with how to install it, or fail under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service.conftest import free_port, services_required

HOW_TO = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
    "/usr/lib/postgresql/*/bin: apt-get install postgresql"
)
ROLE = "app"


@dataclass(frozen=True)
class ScramPostgres:
    """Where the private server listens and the one role that may log in."""

    port: int
    user: str
    password: str
    database: str

    def url(self, *, database: str | None = None) -> str:
        """A DATABASE_URL for the role, without the password (it goes in DATABASE_PASSWORD)."""
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database or self.database}"


def postgres_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl (the newest installed version), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


def _run(command: list[str], timeout: float = 120) -> None:
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` exited {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )


@pytest.fixture(scope="session")
def scram_postgres() -> Iterator[ScramPostgres]:
    """Start the private server with role ``app`` (SCRAM password) owning database ``app``."""
    bindir = postgres_bindir()
    if bindir is None:
        if services_required():
            pytest.fail(f"{HOW_TO} (REQUIRE_SERVICES=1, so this is a failure, not a skip)")
        pytest.skip(HOW_TO)
    os_user = "postgres" if os.geteuid() == 0 else None

    def as_user(command: list[str]) -> list[str]:
        return ["runuser", "-u", os_user, "--", *command] if os_user else command

    root = Path(tempfile.mkdtemp(prefix="service-tests-pg-"))
    data = root / "data"
    password = secrets.token_urlsafe(18)
    admin_password = secrets.token_urlsafe(18)
    (root / "pwfile").write_text(admin_password + "\n")
    if os_user:
        shutil.chown(root, os_user, os_user)
        shutil.chown(root / "pwfile", os_user, os_user)
    port = free_port()
    _run(as_user([
        str(bindir / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={root / 'pwfile'}",
        "--auth=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C",
    ]))  # fmt: skip
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\n"
            f"unix_socket_directories = '{root}'\n"
            "password_encryption = 'scram-sha-256'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
    # Local socket logins (the set-up below) as the OS superuser; TCP only with a password.
    (data / "pg_hba.conf").write_text(
        "local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    pg_ctl = str(bindir / "pg_ctl")
    try:
        _run(as_user([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "start"]))
        psql = str(bindir / "psql") if (bindir / "psql").exists() else "psql"
        for statement in (
            f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {ROLE} OWNER {ROLE}",
        ):
            _run(as_user([
                psql, "-h", str(root), "-p", str(port), "-U", "postgres", "-d", "postgres",
                "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", statement,
            ]))  # fmt: skip
        yield ScramPostgres(port=port, user=ROLE, password=password, database=ROLE)
    finally:
        subprocess.run(
            as_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
