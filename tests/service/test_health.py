"""Liveness never touches a dependency; readiness reports each one, bounded in time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.service.conftest import TcpProxy, make_settings, open_client


async def test_liveness_is_ok(client: Any) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"


async def test_liveness_touches_no_dependency(closed_port: int) -> None:
    settings = make_settings(
        database_url=f"postgresql+asyncpg://app@127.0.0.1:{closed_port}/app",
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
    )
    async with open_client(settings) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/health/ready")).status_code == 503


async def test_ready_reports_every_check(client: Any) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


async def test_ready_is_503_naming_an_unreachable_cache(
    sqlite_template: Path, closed_port: int
) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{sqlite_template}",
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
    )
    async with open_client(settings) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert error["message"] == "Not ready: cache check failed"
    assert error["details"] == {"checks": {"database": "ok", "cache": "error"}}
    assert error["request_id"] == response.headers["x-request-id"]


async def test_ready_is_503_naming_an_unreachable_database(closed_port: int) -> None:
    settings = make_settings(database_url=f"postgresql+asyncpg://app@127.0.0.1:{closed_port}/app")
    async with open_client(settings) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["checks"] == {"database": "error", "cache": "ok"}
    assert response.json()["error"]["message"] == "Not ready: database check failed"


async def test_ready_checks_are_bounded_by_the_timeout(blackhole: int) -> None:
    """A dependency that accepts but never answers costs at most ~1 s, not a hang."""
    settings = make_settings(
        database_url=f"postgresql+asyncpg://app@127.0.0.1:{blackhole}/app",
        redis_url=f"redis://127.0.0.1:{blackhole}/0",
        readiness_timeout_seconds=0.5,
        cache_timeout_seconds=5,
    )
    async with open_client(settings) as client:
        started = time.perf_counter()
        response = await client.get("/health/ready")
        elapsed = time.perf_counter() - started
    assert response.status_code == 503
    assert response.json()["error"]["details"]["checks"] == {
        "database": "timeout",
        "cache": "timeout",
    }
    # Both checks run concurrently, each bounded by 0.5 s.
    assert elapsed < 1.0


@pytest.mark.postgres
async def test_ready_recovers_when_postgres_comes_back(services: dict[str, str]) -> None:
    url = make_url(services["database_url"])
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = make_settings(database_url=proxied, redis_url=services["redis_url"])
    try:
        async with open_client(settings) as client:
            assert (await client.get("/health/ready")).status_code == 200
            await proxy.stop()
            down = await client.get("/health/ready")
            assert down.status_code == 503
            assert down.json()["error"]["details"]["checks"]["database"] != "ok"
            assert down.json()["error"]["details"]["checks"]["cache"] == "ok"
            await proxy.start()
            again = await client.get("/health/ready")
            assert again.status_code == 200, again.text
    finally:
        await proxy.stop()


@pytest.mark.redis
async def test_ready_recovers_when_redis_comes_back(services: dict[str, str]) -> None:
    redis_url = make_url(services["redis_url"])
    proxy = TcpProxy(redis_url.host or "127.0.0.1", redis_url.port or 6379)
    await proxy.start()
    settings = make_settings(
        database_url=services["database_url"],
        redis_url=f"redis://127.0.0.1:{proxy.port}/{redis_url.database or 0}",
    )
    try:
        async with open_client(settings) as client:
            assert (await client.get("/health/ready")).status_code == 200
            await proxy.stop()
            down = await client.get("/health/ready")
            assert down.status_code == 503
            assert down.json()["error"]["details"]["checks"] == {
                "database": "ok",
                "cache": "error",
            }
            await proxy.start()
            again = await client.get("/health/ready")
            assert again.status_code == 200, again.text
    finally:
        await proxy.stop()
