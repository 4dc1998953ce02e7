"""Many concurrent PATCHes to one item leave it equal to one of the writes, never a mix."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.resilience.conftest import AUTH, RedisServer, app_client, make_settings

ITEMS = "/api/v1/items"
WRITERS = 40
ROUNDS = 10
INITIAL = {"name": "initial", "description": "initial", "price": "0.00"}


def write(number: int) -> dict[str, str]:
    """Writer ``number``'s full set of fields.

    Odd writers send the initial price again: a writer that read the row before
    another committed must still leave its own price, not keep the other's.
    """
    price = "0.00" if number % 2 else f"{number}.00"
    return {"name": f"writer {number}", "description": f"by writer {number}", "price": price}


async def test_concurrent_updates_never_mix_fields(
    database: str, redis_server: RedisServer
) -> None:
    settings = make_settings(database_url=database, redis_url=redis_server.url)
    writes = [write(n) for n in range(WRITERS)]
    engine = create_async_engine(database)
    try:
        async with app_client(settings) as client:
            for _ in range(ROUNDS):
                created = await client.post(ITEMS, json=INITIAL, headers=AUTH)
                assert created.status_code == 201, created.text
                url = f"{ITEMS}/{created.json()['id']}"
                assert (await client.get(url)).status_code == 200  # cached copy exists

                responses = await asyncio.gather(
                    *(client.patch(url, json=fields, headers=AUTH) for fields in writes)
                )
                for fields, response in zip(writes, responses, strict=True):
                    assert response.status_code == 200, response.text
                    # Each writer is told the state its own write produced.
                    assert {k: response.json()[k] for k in fields} == fields

                async with engine.connect() as connection:
                    row = (
                        await connection.execute(
                            text("SELECT name, description, price FROM items WHERE id = :id"),
                            {"id": created.json()["id"]},
                        )
                    ).one()
                stored = {"name": row[0], "description": row[1], "price": f"{row[2]:.2f}"}
                assert stored in writes, f"the stored item mixes writes: {stored}"
                served = (await client.get(url)).json()
                assert {k: served[k] for k in stored} == stored
                assert Decimal(served["price"]) == row[2]
    finally:
        await engine.dispose()
