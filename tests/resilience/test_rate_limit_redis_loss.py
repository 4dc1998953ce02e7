"""Redis killed under the rate limiter: per-process counting takes over, no 5xx, never unlimited.

The server is this test's own ``redis-server`` (the machine's shared one is never
touched), killed with SIGKILL mid-run and started again on the same port.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from service.migrations.runner import upgrade_async
from service.ratelimit import REDIS_RETRY_SECONDS
from tests.resilience.conftest import AUTH, RedisServer, app_client, eventually, make_settings

MISSING = "/api/v1/items/4242"  # a read that needs no row: a 404 until limited
QUOTA = 5


@pytest.mark.redis
async def test_a_redis_outage_falls_back_to_per_process_limits(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    settings = make_settings(
        database_url=database, redis_url=redis_server.url, rate_limit_reads=QUOTA
    )
    await upgrade_async(settings)
    raw = Redis.from_url(redis_server.url)
    try:
        async with app_client(settings) as client:
            for _ in range(2):
                assert (await client.get(MISSING)).status_code == 404
            assert int(await raw.get("ratelimit:reads:ip:127.0.0.1") or 0) == 2

            redis_server.stop()
            # Concurrent and sequential reads while Redis is gone: the process counts
            # afresh (it cannot know Redis's 2), so QUOTA pass and the rest are refused.
            during = await asyncio.gather(*(client.get(MISSING) for _ in range(QUOTA)))
            during += [await client.get(MISSING) for _ in range(3)]
            statuses = [response.status_code for response in during]
            assert all(status < 500 for status in statuses), statuses
            assert statuses.count(404) == QUOTA, statuses
            assert statuses.count(429) == 3, statuses
            assert during[-1].headers["ratelimit"].startswith('"reads";r=0;t=')

            # Writes too: with Redis gone nothing answers 5xx.
            create = await client.post(
                "/api/v1/items",
                json={"name": "x", "price": "1"},
                headers=AUTH,
            )
            assert create.status_code == 201, create.text

            redis_server.start()
            await asyncio.sleep(REDIS_RETRY_SECONDS)
            await raw.aclose()
            raw = Redis.from_url(redis_server.url)

            async def counted_in_redis() -> bool:
                response = await client.get(MISSING)
                assert response.status_code < 500
                return await raw.exists("ratelimit:reads:ip:127.0.0.1") == 1

            # Back on Redis: a new server, so a new count, shared again by every task.
            await eventually(counted_in_redis, within=10)
    finally:
        await raw.aclose()
