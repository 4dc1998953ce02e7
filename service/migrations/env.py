"""Alembic environment: runs on the connection the runner hands over.

The runner (service/migrations/runner.py) opens the async connection, takes the
PostgreSQL advisory lock and passes the synchronous facade of that connection in
``config.attributes["connection"]``. Without one (an ad-hoc ``alembic -c`` run),
this file builds its own engine from the service settings.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import DefaultClause, TypeDecorator
from sqlalchemy.engine import Connection
from sqlalchemy.sql.functions import Function

from service.migrations.metadata import load_models

target_metadata = load_models()


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """How autogenerate writes what the database dialect would otherwise decide.

    A custom column type (``UTCDateTime``) is written as its SQLAlchemy type: a
    migration must not import the application's code, which changes after it.
    A server default that is a bare SQL function (``func.now()``) stays one:
    compiled by the dev database's SQLite it would read ``(CURRENT_TIMESTAMP)``.
    ``False`` leaves everything else to Alembic.
    """
    if kind == "type" and isinstance(item, TypeDecorator):
        impl = item.impl_instance
        if type(impl).__module__.startswith("sqlalchemy."):
            return f"sa.{impl!r}"
    if kind == "server_default" and isinstance(item, DefaultClause):
        function = item.arg
        if isinstance(function, Function) and not list(function.clauses):
            return f"sa.func.{function.name}()"
    return False


def run_on_connection(connection: Connection) -> None:
    """Run the pending migrations in one transaction on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
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
