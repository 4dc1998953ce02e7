"""A small best-effort cache: Redis when configured, an in-process TTL map otherwise.

``get``/``set``/``delete`` never raise: a cache failure is logged as a warning
and the caller carries on as on a miss, so a dead Redis costs latency (bounded
by short socket timeouts) and never an error. ``ping`` does raise; readiness
uses it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from service.config import Settings
from service.logging import get_logger

log = get_logger("cache")


class Cache(Protocol):
    """What the service needs from a cache."""

    async def get(self, key: str) -> bytes | None:
        """The value, or None on a miss or a cache failure."""

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """Store a value for ``ttl_seconds``; failures are logged and ignored."""

    async def delete(self, key: str) -> None:
        """Drop a key; failures are logged and ignored."""

    async def ping(self) -> None:
        """Raise if the cache cannot be reached."""

    async def close(self) -> None:
        """Release connections."""


class MemoryCache:
    """An in-process TTL cache for development, tests and single-process runs."""

    def __init__(self, max_entries: int = 10_000) -> None:
        """Bound the map so an unbounded key space cannot exhaust memory."""
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        """The live value, or None (expired entries are dropped on read)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """Store, evicting the oldest entry when full."""
        self._entries.pop(key, None)
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        """Drop the key if present."""
        self._entries.pop(key, None)

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        """Forget everything."""
        self._entries.clear()


class RedisCache:
    """redis.asyncio with short timeouts, no retries, and failures logged as warnings."""

    def __init__(self, client: Redis, timeout_seconds: float) -> None:
        """Wrap a client; ``timeout_seconds`` bounds every call end to end."""
        self._client = client
        self._timeout = timeout_seconds
        # Reads waiting for the next MGET, by key; see get().
        self._pending: dict[str, list[asyncio.Future[bytes | None]]] = {}
        self._fetches: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisCache:
        """Build the client from REDIS_URL, sending REDIS_PASSWORD as AUTH."""
        assert settings.redis_url is not None
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        timeout = settings.cache_timeout_seconds
        client = Redis.from_url(
            settings.redis_url,
            password=password,
            # No per-socket-operation timeout: every call below is already bounded
            # end to end by asyncio.timeout, and redis-py's own would wrap each
            # read and write in another wait_for (about a sixth of a GET's cost).
            socket_timeout=None,
            socket_connect_timeout=timeout,
            # redis-py retries with exponential backoff by default, which turns an
            # outage into multi-second stalls; the database is the fallback instead.
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=30,
            max_connections=50,
        )
        return cls(client, timeout)

    @property
    def client(self) -> Redis:
        """The underlying redis.asyncio client."""
        return self._client

    async def get(self, key: str) -> bytes | None:
        """The value, or None on a miss or any Redis failure.

        Reads made in the same event-loop turn go to Redis together, as one
        ``MGET`` sent at the start of the next turn (automatic pipelining). Under
        load that turns many round trips, each costing more client CPU than the
        rest of a cached request, into one; a read alone waits one loop turn.
        A read that joins a batch was made before the batch was sent, so it
        never sees a value older than a DEL that completed before it started.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes | None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._send_batch)
        self._pending.setdefault(key, []).append(future)
        try:
            async with asyncio.timeout(self._timeout):
                return await future
        except (RedisError, OSError, TimeoutError) as error:
            _warn("get", key, error)
            return None

    def _send_batch(self) -> None:
        batch, self._pending = self._pending, {}
        task = asyncio.get_running_loop().create_task(self._fetch(batch))
        # Keep a reference: the loop holds tasks only weakly.
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _fetch(self, batch: dict[str, list[asyncio.Future[bytes | None]]]) -> None:
        keys = list(batch)
        error: BaseException | None = None
        values: list[Any] = []
        try:
            async with asyncio.timeout(self._timeout):
                values = await self._client.mget(keys)
        except BaseException as caught:  # handed to every reader, each logs it
            error = caught
        for index, key in enumerate(keys):
            for future in batch[key]:
                if future.done():  # the reader gave up (its own timeout)
                    continue
                if error is not None:
                    future.set_exception(
                        error if isinstance(error, Exception) else RedisError(repr(error))
                    )
                else:
                    value = values[index]
                    # Built without decode_responses, so values arrive as bytes.
                    future.set_result(value if isinstance(value, bytes) else None)
        if error is not None and not isinstance(error, Exception):
            raise error

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """SET with EX; failures are logged and ignored."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.set(key, value, ex=ttl_seconds)
        except (RedisError, OSError, TimeoutError) as error:
            _warn("set", key, error)

    async def delete(self, key: str) -> None:
        """DEL; failures are logged (the TTL bounds how long a stale value lives)."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.delete(key)
        except (RedisError, OSError, TimeoutError) as error:
            _warn("delete", key, error)

    async def ping(self) -> None:
        """PING within the cache timeout; raises on failure."""
        async with asyncio.timeout(self._timeout):
            await self._client.ping()

    async def close(self) -> None:
        """Close the pool."""
        await self._client.aclose()


def _warn(operation: str, key: str, error: BaseException) -> None:
    log.warning(
        "cache unavailable; falling back to the database",
        operation=operation,
        key=key,
        error=f"{type(error).__name__}: {error}",
    )


def create_cache(settings: Settings) -> Cache:
    """Redis when REDIS_URL is set, otherwise the in-process cache."""
    if settings.redis_url:
        return RedisCache.from_settings(settings)
    return MemoryCache()
