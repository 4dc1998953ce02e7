"""Command line: ``python -m service migrate|downgrade|revision|serve``."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from service.config import ConfigError, Settings, load_settings
from service.logging import configure_logging, get_logger

# How `serve` runs uvicorn; the HTTP benchmark serves its baseline app with the same.
UVICORN_OPTIONS: dict[str, Any] = {
    "workers": 1,
    # Behind the ALB / API Gateway: trust X-Forwarded-* from the private network.
    "proxy_headers": True,
    "forwarded_allow_ips": "*",
    # The service writes its own access log (service.middleware); uvicorn's would repeat it.
    "access_log": False,
    "log_config": None,
    "server_header": False,
}
# Exit status for a database that cannot be reached or refuses us (2 is bad settings).
DATABASE_ERROR_EXIT = 1
# PostgreSQL SQLSTATEs of a refused login, by what the operator should check.
_SQLSTATE_HINTS: dict[str, tuple[str, str]] = {
    "28P01": (
        "password authentication failed",
        "check DATABASE_PASSWORD (or the parameter DATABASE_PASSWORD_SSM_PARAMETER names) "
        "and the user in DATABASE_URL",
    ),
    "28000": (
        "login refused",
        "check the user in DATABASE_URL and that the server's pg_hba.conf admits it from here",
    ),
    "3D000": (
        "the database does not exist",
        "create it, or fix the database name at the end of DATABASE_URL",
    ),
}

log = get_logger("cli")


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and everything it wraps: SQLAlchemy's ``orig``, ``__cause__``, ``__context__``."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        for inner in (orig, current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)


def _where(settings: Settings) -> str:
    """Where DATABASE_URL points, without the user's password: ``host:port/db``."""
    url = make_url(settings.database_url)
    if settings.is_sqlite:
        return f"the SQLite file {url.database or ':memory:'}"
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def describe_database_error(error: BaseException, settings: Settings) -> str:
    """One or two lines saying what failed against DATABASE_URL and what to check.

    Names the host, port and database, the kind of failure in words, and the
    variable to look at; never a password (any that appears is masked).
    """
    from service.migrations.runner import MigrationLockTimeoutError

    where = f"the database at {_where(settings)} (DATABASE_URL)"
    what, hint = None, None
    for cause in _causes(error):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(cause, MigrationLockTimeoutError):
            what, hint = "migration lock not acquired", str(cause)
        elif isinstance(sqlstate, str) and sqlstate in _SQLSTATE_HINTS:
            kind, hint = _SQLSTATE_HINTS[sqlstate]
            what = f"{kind} ({_first_line(cause)})"
        elif isinstance(cause, socket.gaierror):
            what = "host name not found"
            hint = "check the host name in DATABASE_URL"
        elif isinstance(cause, ConnectionRefusedError):
            what = "connection refused"
            hint = "check that PostgreSQL is running and DATABASE_URL has the right host and port"
        elif isinstance(cause, TimeoutError):
            what = "connection timed out"
            hint = (
                "check the host and port in DATABASE_URL and that a firewall or security "
                "group lets this machine reach them"
            )
        elif isinstance(cause, OSError):
            what = f"network error ({cause.strerror or _first_line(cause)})"
            hint = "check the host and port in DATABASE_URL"
        if what is not None:
            break
    if what is None:
        what = f"{type(error).__name__}: {_first_line(error)}"
        hint = "rerun with LOG_LEVEL=DEBUG for the traceback"
    message = f"error: cannot use {where}: {what}\n  {hint}"
    return _mask(message, settings)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _mask(text: str, settings: Settings) -> str:
    """``text`` with every password the settings carry replaced by ``***``."""
    secrets = [make_url(settings.database_url).password]
    if settings.database_password is not None:
        secrets.append(settings.database_password.get_secret_value())
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), "***")
    return text


def _against_database(settings: Settings, step: Callable[[], object]) -> bool:
    """Run a database step; on failure print what failed (not a traceback) and return False.

    The traceback follows only at LOG_LEVEL=DEBUG, for whoever debugs the driver:
    the 130 lines of asyncpg and SQLAlchemy frames hid the one line that mattered.
    """
    try:
        step()
    except Exception as error:
        print(describe_database_error(error, settings), file=sys.stderr)
        if settings.log_level == "DEBUG":
            traceback.print_exception(error, file=sys.stderr)
        return False
    return True


async def check_database(settings: Settings) -> None:
    """Open one connection and run ``SELECT 1`` (for ``serve`` without migrations)."""
    from sqlalchemy import text

    from service.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def check_cache(settings: Settings) -> None:
    """PING Redis once; if it does not answer, warn and carry on (reads use the database)."""
    if not settings.redis_url:
        return
    from service.cache import create_cache

    cache = create_cache(settings)
    try:
        await cache.ping()
    except Exception as error:
        # Host and port only: the URL may carry a password.
        url = urlsplit(settings.redis_url)
        log.warning(
            "cache unreachable at start-up; serving from the database until it answers",
            redis=f"{url.hostname}:{url.port or 6379}" if url.hostname else url.scheme,
            error=_mask(f"{type(error).__name__}: {_first_line(error)}", settings),
        )
    finally:
        await cache.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to the latest revision")
    down = commands.add_parser("downgrade", help="downgrade the database (default: to empty)")
    down.add_argument("revision", nargs="?", default="base")
    new = commands.add_parser(
        "revision", help="write a new migration file in service/migrations/versions/"
    )
    new.add_argument("-m", "--message", required=True, help='what it does, e.g. "add orders"')
    new.add_argument(
        "--autogenerate",
        action="store_true",
        help="compare the models with the database (DATABASE_URL, upgraded to head first)",
    )
    commands.add_parser(
        "serve", help="migrate (unless MIGRATE_ON_START=false: then check the database), then serve"
    )
    return parser


def _revision(settings: Settings, message: str, *, autogenerate: bool) -> int:
    """``revision``: write a migration file; with ``autogenerate``, the models' difference."""
    from service.migrations import revision

    try:
        rev_id = revision.next_revision_id()
    except revision.RevisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    written: list[Path | None] = []
    if not autogenerate:
        written.append(revision.create(settings, message, rev_id=rev_id, autogenerate=False))
    elif not _against_database(
        settings,
        lambda: written.append(
            revision.create(settings, message, rev_id=rev_id, autogenerate=True)
        ),
    ):
        return DATABASE_ERROR_EXIT
    path = written[0] if written else None
    if path is None:
        print(f"no change: the models match {_where(settings)} at head; nothing written")
        return 0
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    print(f"wrote {shown}: review it (and `make test-migrations` lints it) before committing")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command, load and validate settings, run it; return the exit code."""
    args = _parser().parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)

    # Imported after the settings are known good: alembic and uvicorn are heavy.
    from service.migrations import runner

    if args.command == "migrate":
        migrated = _against_database(settings, lambda: runner.upgrade(settings))
        return 0 if migrated else DATABASE_ERROR_EXIT
    if args.command == "downgrade":
        downgraded = _against_database(settings, lambda: runner.downgrade(settings, args.revision))
        return 0 if downgraded else DATABASE_ERROR_EXIT
    if args.command == "revision":
        return _revision(settings, args.message, autogenerate=args.autogenerate)

    import uvicorn

    from service.main import create_server_app

    if settings.migrate_on_start:
        ready = _against_database(settings, lambda: runner.upgrade(settings))
    else:
        ready = _against_database(settings, lambda: asyncio.run(check_database(settings)))
    if not ready:
        return DATABASE_ERROR_EXIT
    asyncio.run(check_cache(settings))
    # The app object, built from the settings already loaded: an import string with
    # factory=True made uvicorn call create_app() -> load_settings() again, a second
    # SSM GetParameters per process.
    uvicorn.run(
        create_server_app(settings),
        host=settings.host,
        port=settings.port,
        **UVICORN_OPTIONS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
