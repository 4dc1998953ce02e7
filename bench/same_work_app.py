"""The same-work HTTP baseline: a minimal FastAPI app on asyncpg, no service code.

What a competent minimal FastAPI + PostgreSQL service does for the item routes,
so the benchmark can say how much the service's own layers (SQLAlchemy, the
middleware, the error envelope, the cache) cost on top of the unavoidable
database round trips:

- one asyncpg pool (asyncpg's defaults: 10 connections, opened at start-up);
- ``GET /api/v1/items``: the page and the total in one query, with
  ``count(*) over ()``; no explicit transaction;
- ``GET /api/v1/items/{id}``: one ``SELECT`` (uncached: this app has no cache);
- ``POST /api/v1/items``: one ``INSERT ... RETURNING`` (one implicit
  transaction), behind the same bearer-token check as the service.

Request and response bodies are pydantic models with the service's JSON shape,
so validation and serialisation are part of the work on both sides. Settings:
``DATABASE_URL`` (``postgresql://`` or ``postgresql+asyncpg://``) and
``API_TOKEN``. Served by :mod:`bench.serve` with the service's uvicorn options.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from fastapi import FastAPI, Header, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

# Literal statements (no string building): asyncpg prepares each once per connection.
LIST_PAGE = (
    "SELECT id, name, description, price, created_at, updated_at, count(*) OVER () AS total "
    "FROM items ORDER BY id LIMIT $1 OFFSET $2"
)
GET_ONE = "SELECT id, name, description, price, created_at, updated_at FROM items WHERE id = $1"
INSERT_ONE = (
    "INSERT INTO items (name, description, price) VALUES ($1, $2, $3) "
    "RETURNING id, name, description, price, created_at, updated_at"
)


class ItemIn(BaseModel):
    """Body of ``POST /api/v1/items``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


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


def _dsn() -> str:
    # asyncpg takes libpq URLs; accept the SQLAlchemy spelling the benchmark uses too.
    return os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the pool at start-up, close it on shutdown."""
    app.state.pool = await asyncpg.create_pool(_dsn())
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


def _item(record: Any) -> ItemOut:
    return ItemOut(
        id=record["id"],
        name=record["name"],
        description=record["description"],
        price=record["price"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


@app.get("/api/v1/items")
async def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    """One query: the page, each row carrying the total."""
    records = await request.app.state.pool.fetch(LIST_PAGE, limit, offset)
    total = records[0]["total"] if records else 0
    return Page(items=[_item(r) for r in records], total=total, limit=limit, offset=offset)


@app.get("/api/v1/items/{item_id}")
async def get_item(request: Request, item_id: int) -> ItemOut:
    """One query, no cache."""
    record = await request.app.state.pool.fetchrow(GET_ONE, item_id)
    if record is None:
        raise HTTPException(status_code=404, detail="not found")
    return _item(record)


@app.post("/api/v1/items", status_code=201)
async def create_item(
    request: Request, data: ItemIn, authorization: Annotated[str, Header()] = ""
) -> ItemOut:
    """One ``INSERT ... RETURNING`` (its own implicit transaction)."""
    expected = f"Bearer {os.environ.get('API_TOKEN', '')}"
    if not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail="invalid token")
    record = await request.app.state.pool.fetchrow(
        INSERT_ONE,
        data.name,
        data.description,
        data.price,
    )
    return _item(record)
