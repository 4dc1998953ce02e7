"""Database access for items. Writes commit here, so a failure rolls back whole."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.items.models import Item
from service.items.schemas import ItemCreate, ItemUpdate


class ItemRepository:
    """CRUD over the ``items`` table within one session."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside ``session``; the caller owns its lifetime."""
        self.session = session

    async def list(self, *, limit: int, offset: int) -> tuple[Sequence[Item], int]:
        """A page ordered by id, and the total number of items."""
        total = await self.session.scalar(select(func.count()).select_from(Item))
        rows = await self.session.scalars(
            select(Item).order_by(Item.id).limit(limit).offset(offset)
        )
        return rows.all(), int(total or 0)

    async def get(self, item_id: int) -> Item | None:
        """The item, or None."""
        return await self.session.get(Item, item_id)

    async def get_for_update(self, item_id: int) -> Item | None:
        """The item, locked until the session commits (``SELECT ... FOR UPDATE``), or None.

        Concurrent updates then run one after the other on fresh data. Without
        the lock, a writer that read the row before another committed compares
        its values with stale ones, skips the columns it thinks unchanged, and
        leaves a mix of two writes.
        """
        return await self.session.get(Item, item_id, with_for_update=True, populate_existing=True)

    async def create(self, data: ItemCreate) -> Item:
        """Insert and commit."""
        item = Item(**data.model_dump())
        self.session.add(item)
        await self.session.commit()
        return item

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
