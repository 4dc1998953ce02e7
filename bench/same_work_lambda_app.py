"""The same-work cold-start baseline: a minimal FastAPI + Mangum app that queries the database.

The cold-start benchmark serves ``GET /api/v1/items`` from ``lambda_handler``
on a migrated SQLite file (``DATABASE_URL=sqlite+aiosqlite:///<path>``). This
app does the same work the way a minimal function usually would, with no
service code: FastAPI and Mangum built at import, an aiosqlite connection
per request (as the handler's first request opens its own), the page and its total read in one query
(``count(*) over ()``) and returned through pydantic models of the same shape.
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import aiosqlite
from fastapi import FastAPI, Query
from mangum import Mangum
from pydantic import BaseModel

QUERY = (
    "SELECT id, name, description, price, created_at, updated_at, count(*) OVER () "
    "FROM items ORDER BY id LIMIT ? OFFSET ?"
)


class ItemOut(BaseModel):
    """An item as returned."""

    id: int
    name: str
    description: str | None
    price: Decimal
    created_at: datetime
    updated_at: datetime


class Page(BaseModel):
    """A page of items and the total."""

    items: list[ItemOut]
    total: int
    limit: int
    offset: int


def _path() -> str:
    return os.environ["DATABASE_URL"].split("///", 1)[1]


app = FastAPI()


@app.get("/api/v1/items")
async def list_items(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    """One query: the page, each row carrying the total."""
    async with aiosqlite.connect(_path()) as connection:
        rows = list(await connection.execute_fetchall(QUERY, (limit, offset)))
    items = [
        ItemOut(
            id=r[0],
            name=r[1],
            description=r[2],
            price=r[3],
            created_at=r[4],
            updated_at=r[5],
        )
        for r in rows
    ]
    return Page(items=items, total=rows[0][6] if rows else 0, limit=limit, offset=offset)


handler = Mangum(app)
