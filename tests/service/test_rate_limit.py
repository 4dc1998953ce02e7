"""Per-client rate limiting (service.ratelimit): keys, quotas, headers, shared counters.

The Redis tests use TEST_REDIS_URL's database: under pytest-xdist each worker
has its own (tests/workers.py), so another worker's FLUSHDB never resets a
counter in the middle of a test here, and this worker's run only between tests.
Each test also counts under its own key prefix.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from redis.asyncio import Redis

from service.config import Settings
from service.main import create_app
from service.ratelimit import LocalCounters, RateLimiter, client_address, limit_writes
from tests.service.conftest import AUTH, make_settings, unavailable

MISSING = "/api/v1/items/4242"  # a read that needs no row: a 404 until limited
ITEMS = "/api/v1/items"
REAL = "203.0.113.7"


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL (the worker's own database); skips (or fails in CI) without it."""
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not url:
        unavailable("TEST_REDIS_URL is not set")
    return url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A raw client on the limiter's test database; unreachable Redis skips or fails."""
    client = Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(5):
            await client.ping()
    except Exception as error:
        await client.aclose()
        unavailable(f"Redis at TEST_REDIS_URL is unreachable ({type(error).__name__})")
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own."""
    return f"test-{uuid.uuid4().hex}:"


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database of this test's own."""
    path = tmp_path / "app.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def build(settings: Settings, prefix: str) -> FastAPI:
    """The app, counting under ``prefix``."""
    app = create_app(settings)
    app.state.rate_limiter.prefix = prefix
    return app


async def started(app: FastAPI, stack: Any) -> httpx.AsyncClient:
    """A client on ``app`` with its lifespan running until ``stack`` closes."""
    manager = await stack.enter_async_context(LifespanManager(app))
    transport = httpx.ASGITransport(app=manager.app)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://testserver")
    )


def assert_limited(response: httpx.Response, policy: str, quota: int, window: int) -> None:
    """A 429 envelope with Retry-After and the draft's RateLimit fields."""
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    assert response.headers["ratelimit-policy"] == f'"{policy}";q={quota};w={window}'
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    assert response.headers["ratelimit"] == f'"{policy}";r=0;t={retry_after}'
    assert response.headers["x-request-id"]  # inside the request context: a normal envelope


# --- against Redis ------------------------------------------------------------------------


@pytest.mark.redis
async def test_two_app_instances_share_one_limit(
    redis: Redis, redis_url: str, prefix: str, database: str
) -> None:
    settings = make_settings(database_url=database, redis_url=redis_url, rate_limit_reads=3)
    async with AsyncExitStack() as stack:
        first = await started(build(settings, prefix), stack)
        second = await started(build(settings, prefix), stack)
        statuses = [(await client.get(MISSING)).status_code for client in (first, second, first)]
        assert statuses == [404, 404, 404]
        # The fourth read of the window, on the instance that has counted only one.
        assert_limited(await second.get(MISSING), "reads", 3, 60)
    assert int(await redis.get(f"{prefix}reads:ip:127.0.0.1") or 0) == 4


@pytest.mark.redis
async def test_hits_on_one_key_in_one_batch_count_as_if_one_by_one(
    redis: Redis, redis_url: str, prefix: str
) -> None:
    # Made in one loop turn, these go to Redis in one script call, a key's hits as one
    # INCRBY: each caller must still get its own count, in the order the calls were made.
    limiter = RateLimiter(
        make_settings(redis_url=redis_url, rate_limit_reads=3, rate_limit_auth_failures=1), prefix
    )
    limiter.use_redis(redis)
    reads = await asyncio.gather(*(limiter.hit(limiter.reads, "ip:a") for _ in range(5)))
    assert [(d.allowed, d.remaining) for d in reads] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
        (False, 0),
    ]
    assert int(await redis.get(f"{prefix}reads:ip:a") or 0) == 5
    # A write reading the failure counter after a failure counted in the same batch sees it.
    failure, write = await asyncio.gather(
        limiter.hit(limiter.auth_failures, "ip:b"), limiter.hit_write("ip:b", "b")
    )
    assert failure.allowed
    assert (write.policy.name, write.allowed) == ("auth-failures", False)
    await limiter.close()


@pytest.mark.redis
async def test_reads_stay_counted_in_redis_after_the_server_forgets_the_script(
    redis: Redis, redis_url: str, prefix: str, database: str
) -> None:
    # Counts ride in the cache's pipeline as EVALSHA; a NOSCRIPT reply (a restarted
    # Redis) must send them again with EVAL, not drop to the per-process counters.
    settings = make_settings(database_url=database, redis_url=redis_url, rate_limit_reads=10)
    async with AsyncExitStack() as stack:
        client = await started(build(settings, prefix), stack)
        assert (await client.get(MISSING)).headers["ratelimit"] == '"reads";r=9;t=60'
        await redis.script_flush()
        assert (await client.get(MISSING)).headers["ratelimit"] == '"reads";r=8;t=60'
    assert int(await redis.get(f"{prefix}reads:ip:127.0.0.1") or 0) == 2


@pytest.mark.redis
async def test_the_window_resets(redis: Redis, redis_url: str, prefix: str, database: str) -> None:
    settings = make_settings(
        database_url=database, redis_url=redis_url, rate_limit_reads=2, rate_limit_window_seconds=1
    )
    async with AsyncExitStack() as stack:
        client = await started(build(settings, prefix), stack)
        first = await client.get(MISSING)
        assert first.status_code == 404
        assert first.headers["ratelimit"] == '"reads";r=1;t=1'
        assert (await client.get(MISSING)).status_code == 404
        assert_limited(await client.get(MISSING), "reads", 2, 1)
        await asyncio.sleep(1.2)
        again = await client.get(MISSING)
        assert again.status_code == 404, again.text
        assert again.headers["ratelimit"] == '"reads";r=1;t=1'


@pytest.mark.redis
async def test_a_forged_forwarded_for_cannot_change_the_key(
    redis: Redis, redis_url: str, prefix: str, database: str
) -> None:
    # Behind the ALB (one hop): the client wrote the first entry, the ALB appended the last.
    settings = make_settings(
        database_url=database, redis_url=redis_url, rate_limit_reads=2, trusted_proxy_hops=1
    )
    async with AsyncExitStack() as stack:
        client = await started(build(settings, prefix), stack)
        for forged in ("1.2.3.4", "5.6.7.8"):
            response = await client.get(MISSING, headers={"X-Forwarded-For": f"{forged}, {REAL}"})
            assert response.status_code == 404
        # A third forged address, and even the header split in two: still the real client.
        limited = await client.get(
            MISSING, headers=[("X-Forwarded-For", "9.9.9.9"), ("X-Forwarded-For", REAL)]
        )
        assert_limited(limited, "reads", 2, 60)
        # Another real client, forging the first one's address, has its own quota.
        other = await client.get(MISSING, headers={"X-Forwarded-For": f"{REAL}, 198.51.100.2"})
        assert other.status_code == 404
    assert int(await redis.get(f"{prefix}reads:ip:{REAL}") or 0) == 3
    assert await redis.keys(f"{prefix}reads:ip:1.2.3.4") == []


@pytest.mark.redis
async def test_failed_authentications_lock_the_address_out_even_with_the_right_token(
    redis: Redis, redis_url: str, prefix: str, database: str
) -> None:
    settings = make_settings(
        database_url=database,
        redis_url=redis_url,
        rate_limit_auth_failures=2,
        trusted_proxy_hops=1,
    )
    body = {"name": "x", "price": "1"}
    guesser = {"X-Forwarded-For": REAL}
    async with AsyncExitStack() as stack:
        client = await started(build(settings, prefix), stack)
        for _ in range(2):
            wrong = await client.post(
                ITEMS, json=body, headers={**guesser, "Authorization": "Bearer guess"}
            )
            assert wrong.status_code == 401
            assert wrong.headers["ratelimit-policy"] == '"auth-failures";q=2;w=60'
        third = await client.post(
            ITEMS, json=body, headers={**guesser, "Authorization": "Bearer guess"}
        )
        assert_limited(third, "auth-failures", 2, 60)
        # The right token from the locked-out address gets the same answer: no oracle.
        right = await client.post(ITEMS, json=body, headers={**guesser, **AUTH})
        assert_limited(right, "auth-failures", 2, 60)
        # Another client is not locked out.
        other = await client.post(
            ITEMS, json=body, headers={"X-Forwarded-For": "198.51.100.2", **AUTH}
        )
        assert other.status_code == 201, other.text
        assert other.headers["ratelimit-policy"] == '"writes";q=100000;w=60'


@pytest.mark.redis
async def test_writes_have_their_own_quota(
    redis: Redis, redis_url: str, prefix: str, database: str
) -> None:
    settings = make_settings(database_url=database, redis_url=redis_url, rate_limit_writes=1)
    async with AsyncExitStack() as stack:
        client = await started(build(settings, prefix), stack)
        created = await client.post(ITEMS, json={"name": "a", "price": "1"}, headers=AUTH)
        assert created.status_code == 201
        assert created.headers["ratelimit"] == '"writes";r=0;t=60'
        assert_limited(
            await client.post(ITEMS, json={"name": "b", "price": "1"}, headers=AUTH),
            "writes",
            1,
            60,
        )
        # Reads are counted apart.
        assert (await client.get(f"{ITEMS}/{created.json()['id']}")).status_code == 200
    assert await redis.exists(f"{prefix}writes:ip:127.0.0.1") == 1


# --- without Redis: the per-process counters ---------------------------------------------


async def test_without_redis_the_process_counts(prefix: str, database: str) -> None:
    settings = make_settings(database_url=database, rate_limit_reads=1)
    async with AsyncExitStack() as stack:
        client = await started(build(settings, prefix), stack)
        assert (await client.get(MISSING)).status_code == 404
        assert_limited(await client.get(MISSING), "reads", 1, 60)
        # Health and the schema are never limited: the ALB and the docs keep working.
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200


def test_local_counters_reset_with_the_window_and_stay_bounded() -> None:
    counters = LocalCounters(max_keys=2)
    assert counters.count("a", 50, hit=True)[0] == 1
    assert counters.count("a", 50, hit=True)[0] == 2
    assert counters.count("a", 50, hit=False)[0] == 2
    for key in ("b", "c"):
        counters.count(key, 60_000, hit=True)
    assert counters.count("a", 50, hit=False)[0] == 0  # evicted, the oldest
    counters.count("d", 1, hit=True)
    time.sleep(0.01)
    assert counters.count("d", 1, hit=True)[0] == 1


@pytest.mark.parametrize(
    ("headers", "hops", "expected"),
    [
        ([], 0, "10.0.0.5"),
        ([(b"x-forwarded-for", b"1.2.3.4")], 0, "10.0.0.5"),
        ([(b"x-forwarded-for", b"1.2.3.4, 203.0.113.7")], 1, "203.0.113.7"),
        ([(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"203.0.113.7")], 1, REAL),
        ([(b"x-forwarded-for", b"1.2.3.4, 203.0.113.7, 10.1.1.1")], 2, "203.0.113.7"),
        # Fewer entries than trusted hops: the header is not what the proxies wrote.
        ([(b"x-forwarded-for", b"1.2.3.4")], 2, "10.0.0.5"),
        ([], 1, "10.0.0.5"),
    ],
)
def test_client_address_is_the_entry_the_trusted_proxy_appended(
    headers: list[tuple[bytes, bytes]], hops: int, expected: str
) -> None:
    scope = {"headers": headers, "client": ("10.0.0.5", 40000)}
    assert client_address(scope, hops) == expected


def test_limits_default_by_environment() -> None:
    production = Settings(
        environment="production",
        api_token="p" * 40,
        database_url="postgresql+asyncpg://app@db:5432/app",
    )
    development = Settings(environment="development")
    assert (production.rate_limit_reads, production.rate_limit_writes) == (600, 120)
    assert production.rate_limit_auth_failures == 10
    assert development.rate_limit_reads is not None
    assert development.rate_limit_reads > production.rate_limit_reads
    assert Settings(rate_limit_reads=7).rate_limit_reads == 7


def test_every_limited_operation_documents_429() -> None:
    schema = create_app(make_settings()).openapi()
    limited = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in methods.items()
    ]
    assert limited
    for path, method, operation in limited:
        assert "429" in operation["responses"], (method, path)
    for path, methods in schema["paths"].items():
        if path.startswith("/health"):
            assert all("429" not in op["responses"] for op in methods.values()), path


async def test_writes_key_on_the_jwt_subject_and_on_the_address_with_the_static_token(
    prefix: str,
) -> None:
    jwt = make_settings(
        auth_mode="jwt", auth_issuer="http://127.0.0.1:9/issuer", auth_audience="api"
    )
    seen: dict[str, list[str]] = {}
    for settings in (make_settings(), jwt):
        app = build(settings, prefix)
        limiter = app.state.rate_limiter
        counted: list[str] = []
        seen[settings.auth_mode] = counted

        async def hit_write(
            identity: str, address: str, counted: list[str] = counted, limiter: Any = limiter
        ) -> Any:
            counted.append(identity)
            return await type(limiter).hit_write(limiter, identity, address)

        limiter.hit_write = hit_write
        scope = {
            "type": "http",
            "app": app,
            "headers": [],
            "client": ("10.0.0.5", 1),
            # What the auth dependency leaves: the static token's subject is the fixed "token".
            "state": {"auth_subject": "token" if settings.auth_mode == "token" else "client-42"},
        }
        await limit_writes(Request(scope))
    assert seen == {"token": ["ip:10.0.0.5"], "jwt": ["sub:client-42"]}
