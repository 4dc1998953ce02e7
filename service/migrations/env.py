"""Alembic environment: runs on the connection the runner hands over.

The runner (service/migrations/runner.py) opens the async connection, takes the
PostgreSQL advisory lock and passes the synchronous facade of that connection in
``config.attributes["connection"]``. Without one (an ad-hoc ``alembic -c`` run),
this file builds its own engine from the service settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import service.items.models  # noqa: F401 - registers the tables on Base.metadata
from service.db import Base

target_metadata = Base.metadata


def run_on_connection(connection: Connection) -> None:
    """Run the pending migrations in one transaction on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from service.config import load_settings
    from service.migrations.runner import run_locked

    await run_locked(load_settings(), lambda conn: run_on_connection(conn))


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are unsupported; run `python -m service migrate`")

_connection = context.config.attributes.get("connection")
if _connection is not None:
    run_on_connection(_connection)
else:
    asyncio.run(_run_standalone())
