"""Async SQLAlchemy engine, sessions and the declarative base."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from service.config import Settings

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model; its metadata is what Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes, whose meaning would be ambiguous."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """SQLite hands back naive values that were stored as UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


CONNECT_TIMEOUT_SECONDS = 5
# Recycle connections older than this at checkout: under the idle timeouts that
# close connections without telling the client (RDS Proxy's idle client timeout
# defaults to 1800 s), so a connection is replaced before anything silently drops it.
POOL_RECYCLE_SECONDS = 1500


def _discard_if_closed(
    dbapi_connection: Any, connection_record: Any, connection_proxy: Any
) -> None:
    """Pool ``checkout`` hook: refuse a connection PostgreSQL has already closed.

    Instead of ``pool_pre_ping`` (a ``BEGIN`` / ``;`` / ``ROLLBACK`` round trip on
    every checkout, 8-11 % of a list request): when the server ends a session
    (restart, failover, ``pg_terminate_backend``, RDS Proxy closing an idle
    client) the socket is closed and asyncpg marks the connection closed as soon
    as the event loop reads that, which costs nothing to check here. The pool
    then opens a fresh connection in its place. A connection that dies in the
    instant between this check and its first statement is handled by the
    repository, which retries a unit of work once when its first statement hits
    a lost connection (see :mod:`service.items.repository`).
    """
    raw = getattr(dbapi_connection, "_connection", None)  # asyncpg's, in SQLAlchemy's adapter
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def create_engine(settings: Settings) -> AsyncEngine:
    """The engine for the configured database, with a pool sized from settings."""
    if settings.is_sqlite:
        # A file: nothing can drop the connection, so no liveness check of any kind.
        return create_async_engine(settings.sqlalchemy_url())
    engine = create_async_engine(
        settings.sqlalchemy_url(),
        # No overflow by default (see Settings): connections opened above pool_size
        # are closed again as soon as they are returned, so a steady load above the
        # pool size opened and closed connections continuously (~4 per second).
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_timeout=10,
        # asyncpg waits 60 s for a connection by default: an unreachable database
        # would hold each request that long instead of answering 503 promptly.
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
    event.listen(engine.sync_engine.pool, "checkout", _discard_if_closed)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)
