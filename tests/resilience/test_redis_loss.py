"""Redis lost under load: reads stay 200, readiness turns 503, all recovers by itself."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
from redis.asyncio import Redis

from tests.resilience.conftest import AUTH, RedisServer, app_client, eventually, make_settings

ITEMS = "/api/v1/items"
READERS = 8


async def test_reads_survive_a_redis_outage_and_the_cache_comes_back(
    database: str, redis_server: RedisServer
) -> None:
    settings = make_settings(database_url=database, redis_url=redis_server.url)
    async with app_client(settings) as client:
        ids = []
        for n in range(10):
            created = await client.post(
                ITEMS, json={"name": f"item {n}", "price": "1.00"}, headers=AUTH
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        for item_id in ids:  # every item now cached in Redis
            assert (await client.get(f"{ITEMS}/{item_id}")).status_code == 200

        statuses: Counter[int] = Counter()
        phase_counts: Counter[str] = Counter()
        phase = "before"
        stop = asyncio.Event()

        async def reader() -> None:
            while not stop.is_set():
                path = random.choice([f"{ITEMS}/{random.choice(ids)}", f"{ITEMS}?limit=5"])
                response = await client.get(path)
                statuses[response.status_code] += 1
                phase_counts[phase] += 1
                assert response.status_code == 200, (path, response.status_code, response.text)
                await asyncio.sleep(0)

        async def ready_status() -> int:
            return (await client.get("/health/ready")).status_code

        readers = [asyncio.create_task(reader()) for _ in range(READERS)]
        try:
            await asyncio.sleep(0.3)
            phase = "outage"
            redis_server.stop()
            await eventually(lambda: _is(ready_status, 503), within=5)
            await asyncio.sleep(0.5)  # keep reading with Redis gone

            phase = "recovery"
            redis_server.start()
            await eventually(lambda: _is(ready_status, 200), within=10)
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await asyncio.gather(*readers)

        assert set(statuses) == {200}, statuses
        assert phase_counts["outage"] >= READERS, phase_counts
        assert phase_counts["recovery"] >= READERS, phase_counts

        # The cache is used again without a restart: a read stores the item in Redis.
        raw = Redis.from_url(redis_server.url)
        try:
            await raw.flushdb()
            assert (await client.get(f"{ITEMS}/{ids[0]}")).status_code == 200
            assert await raw.get(f"items:{ids[0]}") is not None
        finally:
            await raw.aclose()


async def _is(probe: object, expected: int) -> bool:
    try:
        return await probe() == expected  # type: ignore[operator,no-any-return]
    except httpx.HTTPError:
        return False
