"""Concurrent cache reads share one MGET, and every reader still gets its own answer or None."""

from __future__ import annotations

import asyncio
import signal
import time

from redis.asyncio import Redis

from service.cache import RedisCache
from tests.resilience.conftest import RedisServer, make_settings

TIMEOUT = 0.25


def _cache(server: RedisServer) -> RedisCache:
    return RedisCache.from_settings(
        make_settings(redis_url=server.url, cache_timeout_seconds=TIMEOUT)
    )


async def _command_calls(raw: Redis, command: str) -> int:
    stats = await raw.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_reads_in_one_loop_turn_share_one_mget(redis_server: RedisServer) -> None:
    raw = Redis.from_url(redis_server.url)
    cache = _cache(redis_server)
    try:
        await raw.mset({f"k{n}": f"v{n}".encode() for n in range(40)})
        await raw.config_resetstat()
        keys = [f"k{n % 40}" for n in range(100)] + ["absent"]
        values = await asyncio.gather(*(cache.get(key) for key in keys))
        assert values[:100] == [f"v{n % 40}".encode() for n in range(100)]
        assert values[100] is None
        assert await _command_calls(raw, "mget") == 1
        assert await _command_calls(raw, "get") == 0
        # A read alone is still answered (its batch has one key).
        assert await cache.get("k1") == b"v1"
    finally:
        await cache.close()
        await raw.aclose()


async def test_a_read_after_a_delete_never_sees_the_old_value(redis_server: RedisServer) -> None:
    cache = _cache(redis_server)
    try:
        for round_number in range(20):
            await cache.set("item", f"old {round_number}".encode(), 60)
            readers = [asyncio.create_task(cache.get("item")) for _ in range(5)]
            await cache.delete("item")
            assert await cache.get("item") is None
            await asyncio.gather(*readers)
    finally:
        await cache.close()


async def test_readers_get_none_quickly_when_redis_is_gone(redis_server: RedisServer) -> None:
    cache = _cache(redis_server)
    try:
        await cache.set("k", b"v", 60)
        redis_server.stop()
        started = time.monotonic()
        values = await asyncio.gather(*(cache.get("k") for _ in range(20)))
        assert values == [None] * 20
        assert time.monotonic() - started < TIMEOUT + 0.5
        redis_server.start()
        await cache.set("k", b"back", 60)
        assert await cache.get("k") == b"back"
    finally:
        await cache.close()


async def test_readers_give_up_at_the_timeout_when_redis_hangs(redis_server: RedisServer) -> None:
    cache = _cache(redis_server)
    assert redis_server.process is not None
    try:
        await cache.set("k", b"v", 60)
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            values = await asyncio.gather(*(cache.get("k") for _ in range(10)))
            elapsed = time.monotonic() - started
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        assert values == [None] * 10
        assert TIMEOUT * 0.8 < elapsed < TIMEOUT + 0.5
        # The connection the hung MGET used was dropped; the next read works.
        assert await cache.get("k") == b"v"
    finally:
        await cache.close()
