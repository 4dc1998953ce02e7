"""A small best-effort cache: Redis when configured, an in-process TTL map otherwise.

``get``/``set``/``delete`` never raise: a cache failure is logged as a warning
and the caller carries on as on a miss, so a dead Redis costs latency (bounded
by short socket timeouts) and never an error. ``ping`` does raise; readiness
uses it.

Read-through entries are versioned so a slow reader cannot put back a value a
writer has just replaced or deleted: every key has a version key next to it.
Writers, after their commit, bump the version and drop the value
(``invalidate``). Readers read the value; only on a miss do they read the
version, *before* loading from the database, and store what they loaded only
if the version is still the one they saw (``set_if_version``). A hit therefore
costs one key, and any writer that commits after the version was read makes
the store a no-op.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
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

    async def set_if_version(
        self, key: str, value: bytes, ttl_seconds: int, version_key: str, version: bytes | None
    ) -> None:
        """Store ``value`` only if ``version_key`` still holds ``version`` (None: absent)."""

    async def invalidate(self, key: str, version_key: str, version_ttl_seconds: int) -> None:
        """Bump the version (expiring after ``version_ttl_seconds``) and drop the value.

        Failures are retried once, then logged and ignored.
        """

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

    async def set_if_version(
        self, key: str, value: bytes, ttl_seconds: int, version_key: str, version: bytes | None
    ) -> None:
        """Store unless a writer bumped the generation since ``version`` was read.

        No await between the check and the store, so no writer can run in between.
        """
        if await self.get(version_key) == version:
            await self.set(key, value, ttl_seconds)

    async def invalidate(self, key: str, version_key: str, version_ttl_seconds: int) -> None:
        """Bump the generation counter, then drop the value."""
        current = await self.get(version_key)
        generation = int(current) + 1 if current is not None else 1
        await self.set(version_key, str(generation).encode(), version_ttl_seconds)
        self._entries.pop(key, None)

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        """Forget everything."""
        self._entries.clear()


# Store the value only if the version key still holds what the reader saw: ARGV[3]
# is that version, or "" when the version key was absent (INCR never yields "").
_SET_IF_VERSION = """
local current = redis.call('GET', KEYS[2])
if current == false then current = '' end
if current == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""

# One command another component adds to the cache's next batch, and what to call
# with its reply (or the exception that stood in for it).
BatchCommand = tuple[tuple[Any, ...], Callable[[Any], None]]


class BatchPart(Protocol):
    """A component whose commands of a loop turn join the cache's batch (the rate limiter)."""

    def take(self) -> BatchCommand | None:
        """The command gathered this turn, if any; called once per batch sent."""


# Connections per process. Callers beyond this wait (up to the cache timeout) for
# a free one instead of failing at once, which lost invalidations under load.
MAX_CONNECTIONS = 50


class RedisCache:
    """redis.asyncio with short timeouts, no retries, and failures logged as warnings."""

    def __init__(self, client: Redis, timeout_seconds: float) -> None:
        """Wrap a client; ``timeout_seconds`` bounds every call end to end."""
        self._client = client
        self._timeout = timeout_seconds
        # Reads waiting for the next MGET, by key; see get().
        self._pending: dict[str, list[asyncio.Future[bytes | None]]] = {}
        self._fetches: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self._parts: list[BatchPart] = []
        # EVALSHA, falling back to EVAL (which loads it) when the server lacks the script.
        self._set_if_version = client.register_script(_SET_IF_VERSION)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisCache:
        """Build the client from REDIS_URL, sending REDIS_PASSWORD as AUTH."""
        assert settings.redis_url is not None
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        timeout = settings.cache_timeout_seconds
        # A blocking pool: the default pool raises MaxConnectionsError on the call
        # after the last connection, so a burst of writers lost its invalidations.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout,
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
        )
        return cls(Redis(connection_pool=pool), timeout)

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
        The batch's own timeout bounds every read in it (a failed or timed-out
        batch fails each of its readers), so a read has no timer of its own:
        one per read scheduled and cancelled a loop timer on every request.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes | None] = loop.create_future()
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._send_batch)
        self._pending.setdefault(key, []).append(future)
        try:
            return await future
        except (RedisError, OSError, TimeoutError) as error:
            _warn("get", key, error)
            return None

    def join_batches(self, part: BatchPart) -> None:
        """Send ``part``'s command of each loop turn with that turn's MGET: one round trip."""
        self._parts.append(part)

    def schedule_batch(self) -> None:
        """Send a batch at the start of the next loop turn (once however often it is asked)."""
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send_batch)

    def _send_batch(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, {}
        others = [command for part in self._parts if (command := part.take()) is not None]
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._fetch_with(batch, others) if others else self._fetch(batch))
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

    async def _fetch_with(
        self, batch: dict[str, list[asyncio.Future[bytes | None]]], others: list[BatchCommand]
    ) -> None:
        """The turn's MGET (if any reads) and the other parts' commands in one pipeline."""
        keys = list(batch)
        error: BaseException | None = None
        replies: list[Any] = []
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client.pipeline(transaction=False) as pipe:
                    if keys:
                        pipe.execute_command("MGET", *keys)
                    for command, _ in others:
                        pipe.execute_command(*command)
                    # Errors as replies: one command's failure is its own caller's.
                    replies = await pipe.execute(raise_on_error=False)
        except BaseException as caught:
            error = caught
        failure = (
            None
            if error is None
            else error
            if isinstance(error, Exception)
            else RedisError(repr(error))
        )
        for index, (_, deliver) in enumerate(others):
            deliver(failure if failure is not None else replies[len(replies) - len(others) + index])
        if keys:
            values = replies[0] if failure is None else failure
            for index, key in enumerate(keys):
                for future in batch[key]:
                    if future.done():  # the reader gave up (its own timeout)
                        continue
                    if isinstance(values, BaseException):
                        future.set_exception(values)
                    else:
                        value = values[index]
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

    async def set_if_version(
        self, key: str, value: bytes, ttl_seconds: int, version_key: str, version: bytes | None
    ) -> None:
        """Compare and set in one Lua script, so no invalidation can slip in between."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._set_if_version(
                    keys=[key, version_key], args=[value, ttl_seconds, version or b""]
                )
        except (RedisError, OSError, TimeoutError) as error:
            _warn("set", key, error)

    async def invalidate(self, key: str, version_key: str, version_ttl_seconds: int) -> None:
        """INCR + EXPIRE the version and DEL the value in one MULTI; one retry on failure.

        A lost invalidation leaves a stale value for up to the TTL, so a
        transient failure (a dropped connection, a pool wait that timed out)
        is worth one more attempt; a second failure is logged.
        """
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(self._timeout):
                    async with self._client.pipeline(transaction=True) as pipe:
                        pipe.incr(version_key)
                        pipe.expire(version_key, version_ttl_seconds)
                        pipe.delete(key)
                        await pipe.execute()
                return
            except (RedisError, OSError, TimeoutError) as error:
                if attempt == 2:
                    # Logged as a delete: to operators it is the cached copy that was not dropped.
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
