"""Cache consistency under interleavings: slow readers and bursts of invalidations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from service.cache import RedisCache
from service.items.models import Item
from service.items.repository import ItemRepository
from tests.resilience.conftest import RedisServer, redis_server  # noqa: F401
from tests.service.conftest import AUTH, make_settings, open_client, reset_services

ITEMS = "/api/v1/items"


def _pause_reader_after_db_read(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold GET's reader between its database read and its cache write.

    Returns (loaded, resume): ``loaded`` is set once the reader has the row,
    and the reader continues when the test sets ``resume``. Writers use
    ``get_for_update``, so only the reader is held.
    """
    loaded, resume = asyncio.Event(), asyncio.Event()
    real_get: Callable[[ItemRepository, int], Awaitable[Item | None]] = ItemRepository.get

    async def slow_get(self: ItemRepository, item_id: int) -> Item | None:
        item = await real_get(self, item_id)
        loaded.set()
        await resume.wait()
        return item

    monkeypatch.setattr(ItemRepository, "get", slow_get)
    return loaded, resume


async def _create(client: Any, name: str) -> int:
    response = await client.post(ITEMS, json={"name": name, "price": "1.00"}, headers=AUTH)
    assert response.status_code == 201
    item_id: int = response.json()["id"]
    return item_id


async def test_a_slow_reader_does_not_recache_an_item_updated_meanwhile(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = await _create(client, "old")
    loaded, resume = _pause_reader_after_db_read(monkeypatch)
    reader = asyncio.create_task(client.get(f"{ITEMS}/{item_id}"))
    await asyncio.wait_for(loaded.wait(), 5)

    patched = await client.patch(f"{ITEMS}/{item_id}", json={"name": "new"}, headers=AUTH)
    assert patched.status_code == 200
    resume.set()
    # The reader began before the PATCH committed, so it may answer "old" itself...
    assert (await reader).json()["name"] == "old"
    # ...but must not have left "old" in the cache for everyone after it.
    assert (await client.get(f"{ITEMS}/{item_id}")).json()["name"] == "new"
    assert (await client.get(f"{ITEMS}/{item_id}")).json()["name"] == "new"


async def test_a_slow_reader_does_not_recache_an_item_deleted_meanwhile(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = await _create(client, "doomed")
    loaded, resume = _pause_reader_after_db_read(monkeypatch)
    reader = asyncio.create_task(client.get(f"{ITEMS}/{item_id}"))
    await asyncio.wait_for(loaded.wait(), 5)

    assert (await client.delete(f"{ITEMS}/{item_id}", headers=AUTH)).status_code == 204
    resume.set()
    assert (await reader).status_code == 200
    assert (await client.get(f"{ITEMS}/{item_id}")).status_code == 404


async def test_a_cache_hit_still_takes_one_redis_round_trip(
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """A hit reads the value key alone, in one MGET: versioning adds nothing to it."""
    # Command statistics are server-wide: on the shared Redis, another test (another
    # xdist worker, another run) would add its commands to the count. A private server.
    cache = RedisCache.from_settings(make_settings(redis_url=redis_server.url))
    raw = Redis.from_url(redis_server.url)
    try:
        await cache.invalidate("items:1", "items:1:v", 600)
        await cache.set_if_version("items:1", b"body", 60, "items:1:v", b"1")
        await raw.config_resetstat()
        assert await cache.get("items:1") == b"body"
        stats = await raw.info("commandstats")
        calls = {name: value["calls"] for name, value in stats.items()}
        assert calls.get("cmdstat_mget") == 1
        assert set(calls) <= {"cmdstat_mget", "cmdstat_config|resetstat", "cmdstat_config"}
    finally:
        await cache.close()
        await raw.aclose()


async def test_set_if_version_refuses_after_an_invalidation(
    services: dict[str, str], redis_client: Redis
) -> None:
    cache = RedisCache.from_settings(make_settings(redis_url=services["redis_url"]))
    try:
        await redis_client.flushdb()
        value, version = await cache.get("items:2"), await cache.get("items:2:v")
        assert (value, version) == (None, None)
        await cache.invalidate("items:2", "items:2:v", 600)
        await cache.set_if_version("items:2", b"stale", 60, "items:2:v", version)
        assert await redis_client.get("items:2") is None
        assert 0 < await redis_client.ttl("items:2:v") <= 600
        version = await cache.get("items:2:v")
        await cache.set_if_version("items:2", b"fresh", 60, "items:2:v", version)
        assert await redis_client.get("items:2") == b"fresh"
    finally:
        await cache.close()


CONCURRENT = 120


async def test_a_burst_of_concurrent_deletes_leaves_no_key_behind(
    services: dict[str, str], redis_client: Redis
) -> None:
    """More concurrent calls than pooled connections wait for one instead of failing."""
    cache = RedisCache.from_settings(
        make_settings(redis_url=services["redis_url"], cache_timeout_seconds=2)
    )
    keys = [f"burst:{n}" for n in range(CONCURRENT)]
    try:
        await redis_client.mset(dict.fromkeys(keys, b"stale"))
        await asyncio.gather(*(cache.delete(key) for key in keys))
        assert await redis_client.exists(*keys) == 0
        await redis_client.mset(dict.fromkeys(keys, b"stale"))
        await asyncio.gather(*(cache.invalidate(key, f"{key}:v", 600) for key in keys))
        assert await redis_client.exists(*keys) == 0
    finally:
        await redis_client.delete(*keys, *(f"{key}:v" for key in keys))
        await cache.close()


async def test_concurrent_http_deletes_leave_no_cached_item(
    services: dict[str, str], redis_client: Redis
) -> None:
    """The Redis pool is the limit here, so this runs on PostgreSQL + Redis only."""
    await reset_services(services["database_url"], services["redis_url"])
    settings = make_settings(
        database_url=services["database_url"],
        redis_url=services["redis_url"],
        cache_timeout_seconds=2,
        database_pool_size=20,
        database_max_overflow=0,
    )
    async with open_client(settings) as client:
        ids = [await _create(client, f"item {n}") for n in range(CONCURRENT)]
        await asyncio.gather(*(client.get(f"{ITEMS}/{item_id}") for item_id in ids))
        cached = [f"items:{item_id}" for item_id in ids]
        assert await redis_client.exists(*cached) == CONCURRENT
        responses = await asyncio.gather(
            *(client.delete(f"{ITEMS}/{item_id}", headers=AUTH) for item_id in ids)
        )
        assert {response.status_code for response in responses} == {204}
        assert await redis_client.exists(*cached) == 0
