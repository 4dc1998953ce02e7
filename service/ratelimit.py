"""Per-client rate limiting: fixed windows counted in Redis, per process when Redis is down.

Three route classes, each a policy of ``quota`` requests per ``window`` seconds
per client (see docs/contracts.md, "Rate limits"):

- ``reads``: GET/HEAD under ``/api/``, counted here, in the middleware, before
  the app runs, keyed by the client address (reads are anonymous);
- ``writes``: every other method there, counted by :func:`limit_writes` once
  authentication has passed, keyed by the authenticated subject the auth layer
  recorded in ``scope["state"]["auth_subject"]`` with ``AUTH_MODE=jwt``, else
  (the shared static token identifies no one) by address;
- ``auth-failures``: every 401, counted here by address. Once over its quota,
  further 401s become 429s *and* writes with a valid credential are refused
  too, so a guesser cannot tell a right guess from a wrong one.

The client address is what the front end reports: with ``TRUSTED_PROXY_HOPS=0``
the ASGI ``client`` (on Lambda, Mangum's copy of the event's ``sourceIp``);
with ``n > 0`` the n-th ``X-Forwarded-For`` entry from the right, the one the
n-th trusted proxy appended (on Fargate, n=1: the ALB's). Never uvicorn's
rewritten ``client``: with ``forwarded_allow_ips="*"`` uvicorn takes the
*left-most* entry, which the client wrote itself.

Counting is one Lua script per request, atomic (INCR, PEXPIRE on the first hit,
PTTL for the headers). Counts made in the same event-loop turn go to Redis as
one call, a key's hits as one INCRBY, in the same pipeline as that turn's cache
MGET (:meth:`RedisCache.join_batches`), so under load many requests share one
round trip. When Redis fails, a per-process counter with the same quotas takes
over for a second before Redis is tried again: never a 5xx, never unlimited.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from redis.asyncio import Redis
from redis.exceptions import NoScriptError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.cache import BatchCommand, RedisCache
from service.config import Settings
from service.errors import error_response
from service.logging import get_logger

log = get_logger("ratelimit")

# Where the auth layer leaves the verified subject (in ``scope["state"]``), and the
# scope keys where this module leaves the client address and the decision for the
# response headers: in the request's own scope, not in ``state``, which a server may
# share between requests (asgi-lifespan's test harness does).
AUTH_SUBJECT = "auth_subject"
CLIENT_ADDRESS = "ratelimit.client_address"
_DECISION = "ratelimit.decision"

LIMITED_PREFIX = "/api/"
READ_METHODS = frozenset({"GET", "HEAD"})
# How long the per-process counters stand in after a Redis failure before Redis is tried again.
REDIS_RETRY_SECONDS = 1.0
# Per-process counters kept at most (oldest dropped): a flood of addresses cannot exhaust memory.
LOCAL_MAX_KEYS = 100_000
# Longer identities (e.g. a subject) are hashed, so a key stays short whatever a token holds.
_MAX_IDENTITY = 128

# KEYS: distinct counters. ARGV: per counter, the hits to add (0 to only read), then the
# window in ms. Returns count and milliseconds left, per counter. A counter is
# created with its expiry in the same script, so none can outlive its window.
# Hits on one key in a batch arrive as one INCRBY (under load, one client's
# requests of a loop turn): the caller hands each its own count, as if in order.
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  local hits = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local count
  if hits > 0 then
    count = redis.call('INCRBY', key, hits)
    if count == hits then redis.call('PEXPIRE', key, window) end
  else
    count = tonumber(redis.call('GET', key) or '0')
  end
  local left = redis.call('PTTL', key)
  if left < 0 then
    if count > 0 then redis.call('PEXPIRE', key, window) end
    left = window
  end
  out[2 * i - 1] = count
  out[2 * i] = left
end
return out
"""


@dataclass(frozen=True, slots=True)
class Policy:
    """``quota`` requests per ``window_seconds`` for one route class."""

    name: str
    quota: int
    window_seconds: int
    # Built once: every counted response carries it.
    raw_header: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Encode the ``RateLimit-Policy`` header pair once."""
        object.__setattr__(self, "raw_header", (b"ratelimit-policy", self.header.encode()))

    @property
    def header(self) -> str:
        """The ``RateLimit-Policy`` member (draft-ietf-httpapi-ratelimit-headers-10)."""
        return f'"{self.name}";q={self.quota};w={self.window_seconds}'


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one count: allowed or not, what is left and when it resets."""

    policy: Policy
    allowed: bool
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit``, plus ``Retry-After`` on a refusal."""
        headers = {
            "RateLimit-Policy": self.policy.header,
            "RateLimit": f'"{self.policy.name}";r={self.remaining};t={self.reset_seconds}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """:meth:`headers` as ASGI header pairs."""
        policy = self.policy
        raw = [
            policy.raw_header,
            (b"ratelimit", f'"{policy.name}";r={self.remaining};t={self.reset_seconds}'.encode()),
        ]
        if not self.allowed:
            raw.append((b"retry-after", str(self.reset_seconds).encode()))
        return raw


def _decide(policy: Policy, count: int, left_ms: int, *, counted: bool) -> Decision:
    # A read-only count (counted=False) is over once it has *reached* the quota.
    allowed = count <= policy.quota if counted else count < policy.quota
    return Decision(
        policy=policy,
        allowed=allowed,
        remaining=max(policy.quota - count, 0),
        # Whole seconds, rounded up: a client that waits that long finds a new window.
        reset_seconds=max(1, -(-left_ms // 1000)),
    )


def client_address(scope: Scope, proxy_hops: int) -> str:
    """The address to key on: the n-th ``X-Forwarded-For`` entry from the right, or the peer."""
    if proxy_hops > 0:
        entries: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                entries.extend(value.split(b","))
        if len(entries) >= proxy_hops:
            address = entries[-proxy_hops].strip().decode("latin-1")
            if address:
                return address
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _identity(kind: str, value: str) -> str:
    if len(value) > _MAX_IDENTITY:
        value = hashlib.sha256(value.encode()).hexdigest()
    return f"{kind}:{value}"


class LocalCounters:
    """Fixed-window counters in this process: the stand-in while Redis is unreachable."""

    def __init__(self, max_keys: int = LOCAL_MAX_KEYS) -> None:
        """Bound the map to ``max_keys`` counters."""
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._max_keys = max_keys

    def count(self, key: str, window_ms: int, hit: bool) -> tuple[int, int]:
        """Count a hit (or only read) ``key``; return the count and the ms left in its window."""
        now = time.monotonic()
        ends, count = self._windows.get(key, (0.0, 0))
        if ends <= now:
            ends, count = now + window_ms / 1000, 0
        if hit:
            count += 1
            self._windows[key] = (ends, count)
            self._windows.move_to_end(key)
            while len(self._windows) > self._max_keys:
                self._windows.popitem(last=False)
        return count, int((ends - now) * 1000)


# One counter to count (or read): key, window in ms, hit or read only.
_Entry = tuple[str, int, bool]


class RateLimiter:
    """The three policies and their counters: Redis when attached, else this process."""

    def __init__(self, settings: Settings, prefix: str = "ratelimit:") -> None:
        """Policies from the settings; counters stay per process until :meth:`use_redis`."""
        window = settings.rate_limit_window_seconds
        assert settings.rate_limit_reads is not None
        assert settings.rate_limit_writes is not None
        assert settings.rate_limit_auth_failures is not None
        self.reads = Policy("reads", settings.rate_limit_reads, window)
        self.writes = Policy("writes", settings.rate_limit_writes, window)
        self.auth_failures = Policy("auth-failures", settings.rate_limit_auth_failures, window)
        self.proxy_hops = settings.trusted_proxy_hops
        # Only a JWT's subject names one client; see limit_writes.
        self.subjects_identify_clients = getattr(settings, "auth_mode", "token") == "jwt"
        self.prefix = prefix
        self.local = LocalCounters()
        self._timeout = settings.cache_timeout_seconds
        self._redis: Redis | None = None
        self._cache: RedisCache | None = None
        self._script: Any = None
        self._redis_retry_at = 0.0
        self._pending: _Batch = []
        self._sends: set[asyncio.Task[None]] = set()

    def use_redis(self, client: Redis | RedisCache | None) -> None:
        """Count in Redis through ``client``; None: per process.

        Given the cache itself, each loop turn's counts join the cache's batch of
        reads: one pipeline, one round trip, for both.
        """
        self._cache = client if isinstance(client, RedisCache) else None
        if isinstance(client, RedisCache):
            client.join_batches(self)
            client = client.client
        self._redis = client
        self._script = client.register_script(_COUNT) if client is not None else None

    async def close(self) -> None:
        """Wait for batches in flight; the Redis client belongs to the cache, which closes it."""
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

    def key(self, policy: Policy, identity: str) -> str:
        """The counter's Redis key."""
        return f"{self.prefix}{policy.name}:{identity}"

    async def hit(self, policy: Policy, identity: str) -> Decision:
        """Count one request of ``identity`` against ``policy``."""
        window_ms = policy.window_seconds * 1000
        count, left = await self._count([(self.key(policy, identity), window_ms, True)])
        return _decide(policy, count, left, counted=True)

    async def hit_write(self, identity: str, address: str) -> Decision:
        """Count a write, refused too while ``address`` is over its failed-authentication quota.

        One script reads the failure counter and counts the write: one round trip.
        """
        window_ms = self.writes.window_seconds * 1000
        failures_ms = self.auth_failures.window_seconds * 1000
        failures_key = self.key(self.auth_failures, _identity("ip", address))
        write_key = self.key(self.writes, identity)
        failures, failures_left, writes, writes_left = await self._count(
            [(failures_key, failures_ms, False), (write_key, window_ms, True)]
        )
        blocked = _decide(self.auth_failures, failures, failures_left, counted=False)
        if not blocked.allowed:
            return blocked
        return _decide(self.writes, writes, writes_left, counted=True)

    async def _count(self, entries: list[_Entry]) -> list[int]:
        if self._script is None or time.monotonic() < self._redis_retry_at:
            return self._count_locally(entries)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()
        if not self._pending:
            if self._cache is not None:
                self._cache.schedule_batch()  # sent with the cache's reads of the turn
            else:
                loop.call_soon(self._send_batch)
        self._pending.append((entries, future))
        try:
            # No timeout of its own: the batch's bounds the wait (and fails every waiter).
            return await future
        # Any failure, not only Redis's: the limiter must never turn into a 5xx.
        except Exception as error:
            if time.monotonic() >= self._redis_retry_at:
                log.warning(
                    "rate limit store unavailable; counting per process",
                    error=f"{type(error).__name__}: {error}",
                    retry_in_seconds=REDIS_RETRY_SECONDS,
                )
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            return self._count_locally(entries)

    def _count_locally(self, entries: list[_Entry]) -> list[int]:
        result: list[int] = []
        for key, window_ms, hit in entries:
            result.extend(self.local.count(key, window_ms, hit))
        return result

    def _send_batch(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        # Keep a reference: the loop holds tasks only weakly.
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def take(self) -> BatchCommand | None:
        """This turn's counts as one EVALSHA for the cache's batch (see :meth:`use_redis`)."""
        if not self._pending:
            return None
        batch, self._pending = self._pending, []
        counters = _merge(batch)
        command = ("EVALSHA", self._script.sha, len(counters), *counters, *_arguments(counters))

        def deliver(reply: Any) -> None:
            if isinstance(reply, NoScriptError):
                # The server lost its scripts (a restart): EVAL loads it again.
                task = asyncio.get_running_loop().create_task(self._send(batch))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)
            else:
                _resolve(batch, counters, reply)

        return command, deliver

    async def _send(self, batch: _Batch) -> None:
        counters = _merge(batch)
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._script(keys=list(counters), args=_arguments(counters))
        # Handed to every waiter, each falls back on its own; a cancellation too, so
        # no waiter is left without an answer (it has no timeout of its own).
        except BaseException as error:
            failure = error if isinstance(error, Exception) else ConnectionError(repr(error))
            _resolve(batch, counters, failure)
            if failure is not error:
                raise
            return
        _resolve(batch, counters, reply)


_Batch = list[tuple[list[_Entry], "asyncio.Future[list[int]]"]]


def _merge(batch: _Batch) -> dict[str, list[int]]:
    """Distinct keys, in first-seen order: [hits, window_ms]; a key's window never varies."""
    counters: dict[str, list[int]] = {}
    for entries, _ in batch:
        for key, window_ms, hit in entries:
            counter = counters.get(key)
            if counter is None:
                counters[key] = [int(hit), window_ms]
            elif hit:
                counter[0] += 1
    return counters


def _arguments(counters: dict[str, list[int]]) -> list[int]:
    args: list[int] = []
    for hits, window_ms in counters.values():
        args += (hits, window_ms)
    return args


def _resolve(batch: _Batch, counters: dict[str, list[int]], reply: Any) -> None:
    """Hand each waiter its counts, or ``reply`` when it is an exception."""
    if isinstance(reply, BaseException):
        for _, future in batch:
            if not future.done():
                future.set_exception(reply)
        return
    # Each waiter's counts, as if the batch's hits had run one by one in order:
    # a key's final count less its hits is where this batch started on it.
    position: dict[str, list[int]] = {}
    for index, (key, (hits, _)) in enumerate(counters.items()):
        position[key] = [int(reply[2 * index]) - hits, int(reply[2 * index + 1])]
    for entries, future in batch:
        result: list[int] = []
        for key, _, hit in entries:
            state = position[key]
            if hit:
                state[0] += 1
            result += state
        if not future.done():  # the waiter is gone (cancelled)
            future.set_result(result)


class RateLimited(HTTPException):
    """A request over its quota: a 429 envelope with ``Retry-After`` and the RateLimit fields."""

    def __init__(self, decision: Decision) -> None:
        """Carry the decision's headers to the envelope."""
        super().__init__(429, detail=_message(decision), headers=decision.headers())


def _message(decision: Decision) -> str:
    policy = decision.policy
    return (
        f"Rate limit exceeded ({policy.name}: {policy.quota} per {policy.window_seconds} s); "
        f"retry after {decision.reset_seconds} s"
    )


def _too_many(decision: Decision) -> Any:
    return error_response(429, _message(decision), code="rate_limited", headers=decision.headers())


async def limit_writes(request: Request) -> None:
    """Count a write once authentication passed; raise :class:`RateLimited` when over."""
    limiter: RateLimiter = request.app.state.rate_limiter
    scope = request.scope
    state = scope.get("state") or {}
    address = scope.get(CLIENT_ADDRESS) or client_address(scope, limiter.proxy_hops)
    # The static API_TOKEN is one shared secret: its holders are not told apart by it
    # (its subject is the fixed "token"), so in that mode writes count per address.
    subject = state.get(AUTH_SUBJECT) if limiter.subjects_identify_clients else None
    identity = _identity("sub", str(subject)) if subject else _identity("ip", address)
    decision = await limiter.hit_write(identity, address)
    if not decision.allowed:
        raise RateLimited(decision)
    scope[_DECISION] = decision


class RateLimitMiddleware:
    """Pure ASGI: counts reads and failed authentications, adds the RateLimit headers."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        """Wrap ``app``; ``limiter`` holds the policies and counters."""
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request if its path is limited, then run the app."""
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        address = client_address(scope, limiter.proxy_hops)
        scope[CLIENT_ADDRESS] = address
        if scope["method"] in READ_METHODS:
            decision = await limiter.hit(limiter.reads, _identity("ip", address))
            if not decision.allowed:
                await _too_many(decision)(scope, receive, send)
                return
            scope[_DECISION] = decision
        refused = False

        async def send_with_limits(message: Message) -> None:
            nonlocal refused
            if refused:
                return  # the body of the 401 a 429 replaced
            if message["type"] == "http.response.start":
                decision: Decision | None = scope.get(_DECISION)
                if message["status"] == 401:
                    decision = await limiter.hit(limiter.auth_failures, _identity("ip", address))
                    if not decision.allowed:
                        refused = True
                        await _too_many(decision)(scope, receive, send)
                        return
                if decision is not None:
                    message["headers"] = [*message.get("headers", ()), *decision.raw_headers()]
            await send(message)

        await self.app(scope, receive, send_with_limits)
