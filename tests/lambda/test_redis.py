"""The Redis client, like the database pool, keeps working across invocations."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import AUTH, Invoke, run, unavailable
from .events import ALB, HTTP_API, REST_API, http_event, result_json, result_text


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """TEST_REDIS_URL, emptied before and after; skips or fails when unavailable."""
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not url:
        unavailable("TEST_REDIS_URL is not set")
    client = Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    except Exception as error:
        client.close()
        unavailable(f"Redis at TEST_REDIS_URL is unreachable ({type(error).__name__})")
    monkeypatch.setenv("REDIS_URL", url)
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


async def _delete_all_items(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM items"))
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.redis
def test_cached_reads_are_served_by_redis_on_later_invocations(
    postgres_env: str, redis_url: str, invoke: Invoke
) -> None:
    created = invoke(
        http_event(
            HTTP_API, "POST", "/api/v1/items", body={"name": "c", "price": "3"}, headers=AUTH
        )
    )
    assert created["statusCode"] == 201, result_text(created)
    item_id = result_json(created)["id"]

    first = invoke(http_event(REST_API, "GET", f"/api/v1/items/{item_id}"))
    assert first["statusCode"] == 200
    assert Redis.from_url(redis_url).exists(f"items:{item_id}") == 1

    # With the row gone, only Redis can answer: the client opened in an earlier
    # invocation must still work on the runtime's loop (a failure reads as a miss -> 404).
    run(_delete_all_items(postgres_env))
    second = invoke(http_event(ALB, "GET", f"/api/v1/items/{item_id}"))
    assert second["statusCode"] == 200, result_text(second)
    assert result_json(second) == result_json(first)
