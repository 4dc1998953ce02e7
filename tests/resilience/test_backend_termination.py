"""PostgreSQL ends every session between two requests: the next request still succeeds.

What a restart, a failover or RDS Proxy closing idle clients looks like to the
pool: every pooled connection was closed by the server while idle. The pool
does not ping before checkout, so the service must notice by itself (a closed
connection is discarded at checkout; a first statement that finds its
connection lost is retried once) instead of answering 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.resilience.conftest import AUTH, app_client, eventually, make_settings

ITEMS = "/api/v1/items"
# Concurrent requests before each termination, so the pool holds several connections.
FILL = 6

Route = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def _list(client: httpx.AsyncClient, item_id: int) -> httpx.Response:
    return await client.get(ITEMS, params={"limit": 20})


async def _get(client: httpx.AsyncClient, item_id: int) -> httpx.Response:
    return await client.get(f"{ITEMS}/{item_id}")  # never read before: a cache miss


async def _create(client: httpx.AsyncClient, item_id: int) -> httpx.Response:
    return await client.post(ITEMS, json={"name": "after", "price": "1.00"}, headers=AUTH)


async def _update(client: httpx.AsyncClient, item_id: int) -> httpx.Response:
    return await client.patch(f"{ITEMS}/{item_id}", json={"price": "2.00"}, headers=AUTH)


async def _delete(client: httpx.AsyncClient, item_id: int) -> httpx.Response:
    return await client.delete(f"{ITEMS}/{item_id}", headers=AUTH)


ROUTES: dict[str, Route] = {
    "list": _list,
    "get": _get,
    "create": _create,
    "update": _update,
    "delete": _delete,
}


async def _backends(admin: AsyncConnection, database: str) -> int:
    result = await admin.execute(
        text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), {"name": database}
    )
    return int(result.scalar_one())


async def _terminate_all(admin: AsyncConnection, database: str) -> int:
    result = await admin.execute(
        text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": database},
    )
    return int(result.scalar_one())


async def test_every_route_succeeds_right_after_all_backends_are_terminated(
    database: str,
) -> None:
    name = make_url(database).database
    assert name is not None
    admin_engine = create_async_engine(
        make_url(database).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    outcomes: list[tuple[str, str, int, Any]] = []
    try:
        async with (
            admin_engine.connect() as admin,
            app_client(make_settings(database_url=database)) as client,
        ):
            ids = []
            for number in range(2 * len(ROUTES) * 2):
                created = await client.post(
                    ITEMS, json={"name": f"item {number}", "price": "1.00"}, headers=AUTH
                )
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])

            # Two ways the next request can meet the dead connections: at once (the
            # pool may not have seen the sockets close yet) and after the server has
            # reaped every session (the closes have been read).
            for wait_for_reaping in (False, True):
                for route_name, route in ROUTES.items():
                    fill = await asyncio.gather(*(_list(client, 0) for _ in range(FILL)))
                    assert all(r.status_code == 200 for r in fill)
                    assert await _terminate_all(admin, name) >= 1
                    if wait_for_reaping:

                        async def reaped() -> bool:
                            return await _backends(admin, name) == 0

                        await eventually(reaped, within=10)
                    response = await route(client, ids.pop())
                    outcomes.append(
                        (
                            route_name,
                            "after reaping" if wait_for_reaping else "at once",
                            response.status_code,
                            response.text[:200],
                        )
                    )
    finally:
        await admin_engine.dispose()

    failed = [outcome for outcome in outcomes if outcome[2] >= 300]
    assert not failed, f"requests after pg_terminate_backend failed: {failed}"
    assert len(outcomes) == 2 * len(ROUTES)
