"""Database access for items. Writes commit here, so a failure rolls back whole.

Round trips are the cost of every route (each one is a wake-up of the event
loop, the driver and PostgreSQL on the same few CPUs), so each method sends
the fewest statements that keep its guarantees:

- reads run in autocommit on PostgreSQL: a single statement needs no
  ``BEGIN`` / ``ROLLBACK`` around it;
- a page and its total come from one statement (``count(*) over ()``);
- writes are one transaction: ``BEGIN``, the statements, ``COMMIT``.

The pool does not ping connections before handing them out (see
:func:`service.db.create_engine`); instead, a unit of work whose *first*
statement finds the connection lost is retried once on a fresh connection.
That is safe because nothing of it can have taken effect: a read changed
nothing, and a write transaction that never reached ``COMMIT`` is rolled back
by PostgreSQL when the connection goes. A connection lost later (in the middle
of a transaction, or during ``COMMIT``, whose outcome is then unknown) is not
retried: the request answers 503 and the client decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Integer, Row, Table, bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.db import utc_now
from service.items.models import Item
from service.items.schemas import ItemCreate, ItemUpdate

T = TypeVar("T")

# Reads: one statement each, so a transaction would only add BEGIN and ROLLBACK.
AUTOCOMMIT: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
_ITEMS = cast(Table, Item.__table__)  # declared as a FromClause; it is the Table
# Core columns, not the ORM entity: a page is turned straight into response
# models, so identity-map bookkeeping per row would be pure overhead.
_COLUMNS = (
    _ITEMS.c.id,
    _ITEMS.c.name,
    _ITEMS.c.description,
    _ITEMS.c.price,
    _ITEMS.c.created_at,
    _ITEMS.c.updated_at,
)
# Built once: a statement object memoises its cache key, which a statement built
# per request would compute (and coerce every clause) again each time.
_PAGE = (
    select(*_COLUMNS, func.count().over().label("total"))
    .order_by(_ITEMS.c.id)
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer))
)
_COUNT = select(func.count()).select_from(_ITEMS)
_INSERT = insert(_ITEMS).returning(*_COLUMNS)


class ItemRepository:
    """CRUD over the ``items`` table within one session."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``; the caller owns its lifetime."""
        self.session = session

    async def _once_more_if_connection_lost(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work``; if its first statement found the connection lost, run it again.

        ``work`` must start a unit of work on a session with nothing pending:
        the retry rolls the session back, which returns the dead connection to
        the pool to be discarded, and the second attempt checks out a live one
        (the pool also discards connections older than the failure).
        """
        try:
            return await work()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            await self.session.rollback()
            return await work()

    async def _read(self) -> AsyncConnection:
        """The session's connection, in autocommit on PostgreSQL."""
        # Autocommit only on PostgreSQL: SQLite's driver opens no transaction for a
        # SELECT anyway, and switching its isolation level costs a PRAGMA each time.
        if self.session.get_bind().dialect.name == "postgresql":
            return await self.session.connection(execution_options=AUTOCOMMIT)
        return await self.session.connection()

    async def list(self, *, limit: int, offset: int) -> tuple[Sequence[Row[Any]], int]:
        """A page ordered by id (rows with the item's columns), and the number of items.

        One statement: each row carries the total (``count(*) over ()`` is computed
        before ``LIMIT``/``OFFSET``). Only a page past the end, which has no row to
        carry it, needs a second statement to count.
        """

        async def work() -> tuple[Sequence[Row[Any]], int]:
            connection = await self._read()
            rows = (await connection.execute(_PAGE, {"limit": limit, "offset": offset})).all()
            if rows:
                return rows, int(rows[0].total)
            if offset == 0:
                return rows, 0
            total = await connection.scalar(_COUNT)
            return rows, int(total or 0)

        return await self._once_more_if_connection_lost(work)

    async def get(self, item_id: int) -> Item | None:
        """The item, or None."""

        async def work() -> Item | None:
            await self._read()
            return await self.session.get(Item, item_id)

        return await self._once_more_if_connection_lost(work)

    async def get_for_update(self, item_id: int) -> Item | None:
        """The item, locked until the session commits (``SELECT ... FOR UPDATE``), or None.

        Concurrent updates then run one after the other on fresh data. Without
        the lock, a writer that read the row before another committed compares
        its values with stale ones, skips the columns it thinks unchanged, and
        leaves a mix of two writes. The first statement of the transaction, so
        retried once on a lost connection.
        """

        async def work() -> Item | None:
            return await self.session.get(
                Item, item_id, with_for_update=True, populate_existing=True
            )

        return await self._once_more_if_connection_lost(work)

    async def create(self, data: ItemCreate) -> Row[Any]:
        """Insert and commit, one transaction; the stored row (``INSERT ... RETURNING``).

        A Core insert, not ``session.add``: the ORM's unit of work (identity map,
        snapshots, flush ordering) was most of the request's SQLAlchemy time for
        one row it then only serialises.
        """
        now = utc_now()
        values = {**data.model_dump(), "created_at": now, "updated_at": now}

        async def work() -> Row[Any]:
            # On the session's connection (its transaction): a Core statement gains
            # nothing from the ORM's execute path, which costs as much again.
            connection = await self.session.connection()
            return (await connection.execute(_INSERT, values)).one()

        # BEGIN and the INSERT may be retried (nothing is committed until COMMIT);
        # COMMIT itself is not: had it reached the server, a retry would insert twice.
        row = await self._once_more_if_connection_lost(work)
        await self.session.commit()
        return row

    async def update(self, item: Item, data: ItemUpdate) -> Item:
        """Apply the sent fields and commit."""
        for field, value in data.changes().items():
            setattr(item, field, value)
        await self.session.commit()
        return item

    async def delete(self, item: Item) -> None:
        """Delete and commit."""
        await self.session.delete(item)
        await self.session.commit()
