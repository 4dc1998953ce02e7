"""Database lost: readiness 503, liveness 200, writes 503 with the envelope, nothing lost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.resilience.conftest import (
    AUTH,
    FaultProxy,
    app_client,
    eventually,
    make_settings,
    through,
)

ITEMS = "/api/v1/items"
WRITERS = 4
# A write during the outage must answer within this (refused connections, no hang).
MAX_FAILED_WRITE_SECONDS = 6.0


async def test_database_outage_is_reported_and_survived_without_losing_writes(
    database: str, pg_proxy: FaultProxy
) -> None:
    settings = make_settings(database_url=through(pg_proxy, database))
    acknowledged: dict[int, str] = {}
    outcomes: list[tuple[str, int, float, Any]] = []
    phase = "before"
    stop = asyncio.Event()

    async with app_client(settings) as client:

        async def writer(number: int) -> None:
            sequence = 0
            while not stop.is_set():
                sequence += 1
                name = f"writer {number} #{sequence}"
                started = time.monotonic()
                response = await client.post(
                    ITEMS, json={"name": name, "price": "2.50"}, headers=AUTH
                )
                body = response.json()
                outcomes.append((phase, response.status_code, time.monotonic() - started, body))
                if response.status_code == 201:
                    acknowledged[body["id"]] = name
                else:
                    await asyncio.sleep(0.05)

        async def status(path: str) -> int:
            return (await client.get(path)).status_code

        writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
        try:
            await asyncio.sleep(0.5)
            phase = "outage"
            await pg_proxy.stop()
            await eventually(lambda: _equals(status("/health/ready"), 503), within=5)
            ready = await client.get("/health/ready")
            assert ready.json()["error"]["details"]["checks"]["database"] != "ok"
            assert await status("/health") == 200
            failed = await client.post(ITEMS, json={"name": "during", "price": "1"}, headers=AUTH)
            assert failed.status_code == 503, failed.text
            error = failed.json()["error"]
            assert error["code"] == "service_unavailable"
            assert error["request_id"] == failed.headers["x-request-id"]
            assert "Traceback" not in failed.text
            await asyncio.sleep(0.5)

            phase = "recovery"
            await pg_proxy.start()
            await eventually(lambda: _equals(status("/health/ready"), 200), within=10)
            await eventually(lambda: _recovered(outcomes), within=10)
        finally:
            stop.set()
            await asyncio.gather(*writers)

    codes = {code for _, code, _, _ in outcomes}
    assert codes <= {201, 503}, [o for o in outcomes if o[1] not in {201, 503}][:3]
    during = [o for o in outcomes if o[0] == "outage"]
    assert any(code == 503 for _, code, _, _ in during), "no write was attempted in the outage"
    slowest = max(seconds for _, code, seconds, _ in outcomes if code == 503)
    assert slowest < MAX_FAILED_WRITE_SECONDS, f"a failed write took {slowest:.1f} s"
    for _, code, _, body in outcomes:
        if code == 503:
            assert body["error"]["code"] == "service_unavailable"

    # Every acknowledged write is in the database (read directly, not through the proxy).
    engine = create_async_engine(database)
    try:
        async with engine.connect() as connection:
            rows = dict((await connection.execute(text("SELECT id, name FROM items"))).all())
    finally:
        await engine.dispose()
    assert acknowledged, "no write was acknowledged"
    missing = {i: n for i, n in acknowledged.items() if rows.get(i) != n}
    assert not missing, f"acknowledged writes lost: {missing}"


async def _equals(awaitable: Any, expected: int) -> bool:
    return bool(await awaitable == expected)


async def _recovered(outcomes: list[tuple[str, int, float, Any]]) -> bool:
    return any(phase == "recovery" and code == 201 for phase, code, _, _ in outcomes)
