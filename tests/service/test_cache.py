"""Read-through caching of GET /api/v1/items/{id}, invalidation, and cache outages."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.engine import make_url

from service.cache import MemoryCache
from service.config import Settings
from service.items.models import Item
from tests.service.conftest import AUTH, TcpProxy, make_settings, open_client

ITEMS = "/api/v1/items"


async def _create(client: Any, name: str = "Widget") -> dict[str, Any]:
    response = await client.post(ITEMS, json={"name": name, "price": "2.50"}, headers=AUTH)
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


async def _rename_behind_the_api(client: Any, item_id: int, name: str) -> None:
    """Change a row without going through the API, so only a cache hit returns the old name."""
    async with client.app.state.sessionmaker() as session:
        await session.execute(update(Item).where(Item.id == item_id).values(name=name))
        await session.commit()


async def test_get_is_served_from_cache_until_invalidated(client: Any) -> None:
    item = await _create(client)
    assert (await client.get(f"{ITEMS}/{item['id']}")).json()["name"] == "Widget"

    await _rename_behind_the_api(client, item["id"], "Renamed in SQL")
    assert (await client.get(f"{ITEMS}/{item['id']}")).json()["name"] == "Widget"  # a hit

    await client.patch(f"{ITEMS}/{item['id']}", json={"price": "3"}, headers=AUTH)
    fresh = (await client.get(f"{ITEMS}/{item['id']}")).json()
    assert fresh["name"] == "Renamed in SQL"
    assert fresh["price"] == "3.00"


async def test_delete_invalidates(client: Any) -> None:
    item = await _create(client)
    assert (await client.get(f"{ITEMS}/{item['id']}")).status_code == 200
    assert (await client.delete(f"{ITEMS}/{item['id']}", headers=AUTH)).status_code == 204
    assert (await client.get(f"{ITEMS}/{item['id']}")).status_code == 404


async def test_missing_items_are_not_cached(client: Any) -> None:
    assert (await client.get(f"{ITEMS}/7")).status_code == 404
    assert await client.app.state.cache.get("items:7") is None


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_cache_entries_are_visible_in_redis(client: Any, redis_client: Redis) -> None:
    item = await _create(client)
    key = f"items:{item['id']}"
    assert await redis_client.exists(key) == 0

    body = (await client.get(f"{ITEMS}/{item['id']}")).json()
    assert json.loads(await redis_client.get(key)) == body
    ttl = await redis_client.ttl(key)
    assert 0 < ttl <= client.app.state.settings.cache_ttl_seconds

    await client.patch(f"{ITEMS}/{item['id']}", json={"name": "New"}, headers=AUTH)
    assert await redis_client.exists(key) == 0

    await client.get(f"{ITEMS}/{item['id']}")
    assert json.loads(await redis_client.get(key))["name"] == "New"
    await client.delete(f"{ITEMS}/{item['id']}", headers=AUTH)
    assert await redis_client.exists(key) == 0


async def test_memory_cache_expires_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = MemoryCache(max_entries=2)
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    await cache.set("a", b"1", ttl_seconds=10)
    assert await cache.get("a") == b"1"
    now[0] += 10
    assert await cache.get("a") is None
    for key in ("x", "y", "z"):
        await cache.set(key, key.encode(), ttl_seconds=10)
    assert await cache.get("x") is None  # evicted: oldest beyond max_entries
    assert await cache.get("z") == b"z"


async def _reads_survive(client: Any, item_id: int, count: int = 5) -> list[float]:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.get(f"{ITEMS}/{item_id}")
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == item_id
    return durations


def _sqlite_settings(tmp_path: Path, template: Path, redis_url: str) -> Settings:
    import shutil

    database = tmp_path / "app.db"
    shutil.copy(template, database)
    return make_settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        redis_url=redis_url,
        cache_timeout_seconds=0.2,
    )


async def test_reads_fall_back_to_the_database_when_redis_is_down(
    tmp_path: Path,
    sqlite_template: Path,
    closed_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = _sqlite_settings(tmp_path, sqlite_template, f"redis://127.0.0.1:{closed_port}/0")
    async with open_client(settings) as client:
        item = await _create(client)
        capsys.readouterr()
        await _reads_survive(client, item["id"])
        updated = await client.patch(f"{ITEMS}/{item['id']}", json={"name": "b"}, headers=AUTH)
        assert updated.status_code == 200
    warnings = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"component": "cache"' in line
    ]
    assert warnings
    assert all(w["level"] == "warning" for w in warnings)
    assert {w["operation"] for w in warnings} == {"get", "set", "delete"}
    assert all(w["request_id"] for w in warnings)


async def test_reads_fall_back_quickly_when_redis_hangs(
    tmp_path: Path, sqlite_template: Path, blackhole: int
) -> None:
    settings = _sqlite_settings(tmp_path, sqlite_template, f"redis://127.0.0.1:{blackhole}/0")
    async with open_client(settings) as client:
        item = await _create(client)
        durations = await _reads_survive(client, item["id"], count=3)
    # get + set each bounded by the 0.2 s cache timeout; no retries, no backoff.
    assert max(durations) < 1.0


@pytest.mark.redis
async def test_redis_outage_mid_traffic_causes_no_5xx(services: dict[str, str]) -> None:
    redis_url = make_url(services["redis_url"])
    proxy = TcpProxy(redis_url.host or "127.0.0.1", redis_url.port or 6379)
    await proxy.start()
    settings = make_settings(
        database_url=services["database_url"],
        redis_url=f"redis://127.0.0.1:{proxy.port}/{redis_url.database or 0}",
        cache_timeout_seconds=0.2,
    )
    statuses: list[int] = []
    try:
        async with open_client(settings) as client:
            item = await _create(client, name="outage")
            for _ in range(3):
                statuses.append((await client.get(f"{ITEMS}/{item['id']}")).status_code)
            await proxy.stop()
            for _ in range(5):
                statuses.append((await client.get(f"{ITEMS}/{item['id']}")).status_code)
            patched = await client.patch(
                f"{ITEMS}/{item['id']}", json={"name": "during outage"}, headers=AUTH
            )
            statuses.append(patched.status_code)
            during = await client.get(f"{ITEMS}/{item['id']}")
            statuses.append(during.status_code)
            assert during.json()["name"] == "during outage"
            await proxy.start()
            statuses.append((await client.get(f"{ITEMS}/{item['id']}")).status_code)
    finally:
        await proxy.stop()
    assert len(statuses) == 11
    assert all(status < 500 for status in statuses), statuses
