"""HTTP throughput and latency of the service against two baselines, with wrk.

The service runs under uvicorn exactly as ``python -m service serve`` runs it
(one worker, the same uvicorn options, ``ENVIRONMENT=production``, its JSON
access log on), on a throwaway PostgreSQL database seeded with items and on
Redis database 14. The baselines run under the same uvicorn options:
:mod:`bench.bare_http_app` (one route, no database) for every endpoint, and,
for the item routes, :mod:`bench.same_work_app` (a minimal FastAPI app doing
the same database work with asyncpg directly, on the same database; it has no
cache, so its get-by-id is a database read). Each endpoint is loaded with
``wrk`` at 32 connections; the runs alternate (bare, service, same-work) so
machine noise hits all alike, and for each side the best of the rounds is kept
(the run least disturbed by other work on the machine). Around each run on a
server that uses PostgreSQL, a watch on ``pg_stat_activity`` counts the
connections that run opened (steady load should open none).

Run ``python -m bench.http_load`` (``--help``), or call :func:`measure_http`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
DEFAULT_ADMIN_URL = f"postgresql+asyncpg://postgres@{LOOPBACK}:5432/postgres"
DEFAULT_REDIS_URL = f"redis://{LOOPBACK}:6379/14"
CONNECTIONS = 32
THREADS = 2
DEFAULT_DURATION = 5.0
# One warm-up run; repeated (up to MAX_WARMUPS) while it still opens PostgreSQL
# connections, so that the measured runs start with the pool at its steady size.
DEFAULT_WARMUP = 2.0
MAX_WARMUPS = 5
DEFAULT_ROUNDS = 3
SEED_ITEMS = 1000
START_TIMEOUT_SECONDS = 30.0
# How often a run's new PostgreSQL backends are looked for (ConnectionWatch).
POLL_SECONDS = 0.05
ProgressFn = Callable[[str], None]


class BenchmarkError(RuntimeError):
    """The benchmark could not run or a run was invalid (errors, non-2xx answers)."""


# --- wrk --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """One wrk run."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_responses: int
    socket_errors: int
    # wrk's Transfer/sec (headers and body as received): the compression rows' bytes.
    bytes_per_second: float = 0.0

    @property
    def bytes_per_response(self) -> float:
        """Bytes received per response, headers included."""
        return self.bytes_per_second / self.requests_per_second if self.requests_per_second else 0


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_UNIT_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_LATENCY_LINE = re.compile(r"^\s*(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)


def parse_wrk(output: str) -> LoadResult:
    """Read requests/s, the 50th/99th latency percentiles and errors from ``wrk --latency``."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    percentiles = {m[1]: float(m[2]) * _UNIT_MS[m[3]] for m in _LATENCY_LINE.finditer(output)}
    if rate is None or total is None or set(percentiles) != {"50", "99"}:
        raise BenchmarkError(f"could not read wrk's output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    transfer = re.search(r"^Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", output, re.MULTILINE)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return LoadResult(
        requests_per_second=float(rate[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(total[1]),
        bad_responses=int(bad[1]) if bad else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        bytes_per_second=float(transfer[1]) * _UNIT_BYTES[transfer[2]] if transfer else 0.0,
    )


def ensure_wrk(progress: ProgressFn) -> str:
    """The path of wrk, installing the Debian package first when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    progress("wrk is not installed: installing the Debian package (apt-get install -y wrk)")
    apt = ["apt-get", "install", "-y", "-qq", "wrk"]
    if os.geteuid() != 0:
        apt.insert(0, "sudo")
    completed = subprocess.run(apt, capture_output=True, text=True, check=False)
    found = shutil.which("wrk")
    if found is None:
        raise BenchmarkError(
            "wrk is missing and `apt-get install -y wrk` failed; install it and retry:\n"
            + completed.stderr[-2000:]
        )
    progress(f"installed {found}")
    return found


def run_wrk(
    wrk: str, url: str, duration: float, script: Path | None = None, *, check: bool = True
) -> LoadResult:
    """Load ``url`` for ``duration`` seconds at :data:`CONNECTIONS` connections."""
    command = [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    if script is not None:
        command += ["-s", str(script)]
    completed = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if completed.returncode != 0:
        raise BenchmarkError(f"wrk failed on {url}:\n{completed.stderr}{completed.stdout}")
    result = parse_wrk(completed.stdout)
    if check and (result.bad_responses or result.socket_errors):
        raise BenchmarkError(
            f"{url}: {result.bad_responses} non-2xx answers and {result.socket_errors} socket "
            f"errors out of {result.requests} requests; the figures would be meaningless"
        )
    return result


def random_item_script(directory: Path, items: int = SEED_ITEMS) -> Path:
    """A wrk Lua script that GETs a random one of the ``items`` seeded items per request."""
    path = directory / "random_item.lua"
    path.write_text(
        "request = function()\n"
        f'  return wrk.format("GET", "/api/v1/items/" .. math.random(1, {items}))\n'
        "end\n"
    )
    return path


def gzip_script(directory: Path) -> Path:
    """A wrk Lua script that asks for gzip (wrk sends no Accept-Encoding of its own)."""
    path = directory / "gzip.lua"
    path.write_text('wrk.headers["Accept-Encoding"] = "gzip"\n')
    return path


def post_script(directory: Path, token: str) -> Path:
    """A wrk Lua script that POSTs one item per request with the bearer token."""
    path = directory / "post_item.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        'wrk.body = \'{"name": "bench item", "description": "from wrk", "price": "9.99"}\'\n'
    )
    path.chmod(0o600)
    return path


# --- the database and the servers -----------------------------------------------------


def _loopback_only(url: str, what: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(url).host if "://" in url and not url.startswith("redis") else None
    if url.startswith("redis"):
        host = httpx.URL(url).host
    if host not in {LOOPBACK, "localhost", "::1"}:
        raise BenchmarkError(f"{what} must be on the loopback interface, got host {host!r}")


async def _create_seeded_database(admin_url: str, name: str, items: int) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    from service.config import Settings
    from service.logging import configure_logging
    from service.migrations.runner import upgrade_async

    configure_logging("WARNING")  # the table owns stdout; migration chatter is noise
    await upgrade_async(Settings(environment="test", database_url=url))
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO items (name, description, price) "
                    "SELECT 'item ' || n, 'seeded for the benchmark', (n % 100) + 0.99 "
                    "FROM generate_series(1, :count) AS n"
                ),
                {"count": items},
            )
    finally:
        await engine.dispose()
    return url


async def _drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@contextmanager
def seeded_database(admin_url: str, items: int = SEED_ITEMS) -> Iterator[str]:
    """A throwaway, migrated database holding ``items`` items; dropped on exit (Ctrl-C too)."""
    _loopback_only(admin_url, "the benchmark database")
    name = f"fastapi_bench_{uuid.uuid4().hex[:10]}"
    try:
        yield asyncio.run(_create_seeded_database(admin_url, name, items))
    finally:
        asyncio.run(_drop_database(admin_url, name))


def flush_redis(redis_url: str) -> None:
    """Empty the benchmark's Redis database, so every run starts cold."""
    _loopback_only(redis_url, "the benchmark Redis")
    from redis import Redis

    client = Redis.from_url(redis_url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Server:
    """A ``python -m bench.serve`` child process."""

    app: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self.port}"

    def log_tail(self) -> str:
        """The last lines the server wrote, for error messages."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]


def _clean_environment() -> dict[str, str]:
    from service.config import Settings

    return {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}


@contextmanager
def serve(app: str, env: dict[str, str], ready_path: str) -> Iterator[Server]:
    """Start ``python -m bench.serve <app>``; wait for ``ready_path``; stop it on exit."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", app],
        cwd=REPO_ROOT,
        env={**env, "HOST": LOOPBACK, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(app, port, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise BenchmarkError(
                    f"{app} exited with {process.returncode}:\n{server.log_tail()}"
                )
            try:
                if httpx.get(server.base_url + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{app} did not answer within {START_TIMEOUT_SECONDS} s")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


# --- the measurement -------------------------------------------------------------------


@dataclass(frozen=True)
class SameWork:
    """An endpoint's comparison with :mod:`bench.same_work_app` (same path, same script)."""

    label: str
    min_throughput_ratio: float | None = None
    max_p99_ratio: float | None = None


@dataclass(frozen=True)
class Endpoint:
    """One figure of the HTTP benchmark."""

    label: str
    path: str
    script: str | None = None  # "post", "random-item" or "gzip": the wrk Lua script to use
    min_throughput_ratio: float | None = None
    max_p99_ratio: float | None = None
    same_work: SameWork | None = None


LIST_100_IDENTITY = "GET /api/v1/items (list, 100)"
LIST_100_GZIP = "GET /api/v1/items (list, 100, gzip)"

ENDPOINTS = (
    Endpoint("GET /health", "/health", min_throughput_ratio=0.85),
    # Every seeded item is in Redis before the run; each request asks for a random one.
    Endpoint(
        "GET /api/v1/items/{id} (cache hit)",
        "/api/v1/items/1",
        script="random-item",
        min_throughput_ratio=0.5,
        max_p99_ratio=3.0,
        # The same-work app has no cache: its get is a PostgreSQL read. Informational,
        # not like for like, so no target.
        same_work=SameWork("GET /api/v1/items/{id} vs same-work (uncached)"),
    ),
    Endpoint(
        "GET /api/v1/items (list, 20)",
        "/api/v1/items?limit=20",
        same_work=SameWork(
            "GET /api/v1/items (list) vs same-work", min_throughput_ratio=0.5, max_p99_ratio=2.0
        ),
    ),
    # The largest page, without and with gzip (docs/performance.md, "Compression"):
    # compared with each other in the table, not with the bare app.
    Endpoint(LIST_100_IDENTITY, "/api/v1/items?limit=100"),
    Endpoint(LIST_100_GZIP, "/api/v1/items?limit=100", script="gzip"),
    # Last: every request adds a row, which the list endpoint would then count.
    Endpoint(
        "POST /api/v1/items",
        "/api/v1/items",
        script="post",
        same_work=SameWork(
            "POST /api/v1/items (create) vs same-work", min_throughput_ratio=0.5, max_p99_ratio=2.0
        ),
    ),
)


@dataclass(frozen=True)
class Comparison:
    """The best service run and the best baseline run for one endpoint."""

    endpoint: Endpoint
    service: LoadResult
    baseline: LoadResult
    # The best same-work run, when the endpoint has that comparison.
    same_work: LoadResult | None = None
    # The most PostgreSQL connections one steady-load run opened, per side.
    service_connections: int = 0
    same_work_connections: int = 0

    @property
    def same_work_throughput_ratio(self) -> float:
        """Service requests/s over the same-work app's."""
        assert self.same_work is not None
        return self.service.requests_per_second / self.same_work.requests_per_second

    @property
    def same_work_p99_ratio(self) -> float:
        """Service 99th percentile latency over the same-work app's."""
        assert self.same_work is not None
        return self.service.p99_ms / self.same_work.p99_ms

    @property
    def throughput_ratio(self) -> float:
        """Service requests/s over the baseline's."""
        return self.service.requests_per_second / self.baseline.requests_per_second

    @property
    def p50_ratio(self) -> float:
        """Service median latency over the baseline's."""
        return self.service.p50_ms / self.baseline.p50_ms

    @property
    def p99_ratio(self) -> float:
        """Service 99th percentile latency over the baseline's."""
        return self.service.p99_ms / self.baseline.p99_ms


@dataclass(frozen=True)
class HttpResult:
    """Every endpoint's comparison, and what the runs were."""

    comparisons: tuple[Comparison, ...]
    duration: float
    rounds: int
    elapsed_seconds: float
    loop: str


def service_environment(database_url: str, redis_url: str, token: str) -> dict[str, str]:
    """Production settings on the local PostgreSQL and Redis."""
    env = _clean_environment()
    env.update(
        ENVIRONMENT="production",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        API_TOKEN=token,
        LOG_LEVEL="INFO",
        MIGRATE_ON_START="false",
        # The cached read must stay a cache hit for the whole run (the cache is primed
        # once, and the runs before it take longer than the 60 s default TTL).
        CACHE_TTL_SECONDS="3600",
        # Limiting stays on (every request is counted in Redis, the cost measured here),
        # with quotas sized so one load generator on one address is never refused:
        # production's 600 reads a minute would turn the run into a 429 benchmark.
        RATE_LIMIT_READS="100000000",
        RATE_LIMIT_WRITES="100000000",
        RATE_LIMIT_AUTH_FAILURES="100000000",
    )
    return env


class ConnectionWatch:
    """Counts the PostgreSQL connections opened to one database while a load run lasts.

    A thread polls ``pg_stat_activity`` every :data:`POLL_SECONDS` during the
    run, and once at its end, for backends of the database that started after
    the run did; the count is how many distinct ones it saw. Every connection
    still open at the end is counted exactly, and so is pool churn (a
    connection opened and closed per request is seen at some poll: under load
    they come by the hundred). It reads over a connection to the admin
    database, so reading does not count.

    Not ``pg_stat_database.sessions``: a backend publishes that counter when it
    next flushes its statistics, which PostgreSQL 15+ may put off by 10 s
    (``PGSTAT_IDLE_INTERVAL``) after a flush it could not finish or that came
    within a second of the last, so a connection opened during the warm-up
    could be counted in the run after it.
    """

    def __init__(self, admin_url: str, database_url: str) -> None:
        """Watch ``database_url``'s database, reading through ``admin_url``."""
        from sqlalchemy.engine import make_url

        self.dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
        self.database = make_url(database_url).database

    def during(self, run: Callable[[], LoadResult]) -> tuple[LoadResult, int]:
        """``run()``'s result and the connections opened to the database meanwhile."""
        import threading

        started = threading.Event()
        stop = threading.Event()
        seen: set[tuple[int, Any]] = set()
        failure: list[BaseException] = []

        def watch() -> None:
            try:
                asyncio.run(self._watch(started, stop, seen))
            except BaseException as error:  # reported on the caller's thread
                failure.append(error)
                started.set()

        thread = threading.Thread(target=watch, name="connection-watch", daemon=True)
        thread.start()
        started.wait()
        try:
            result = run()
        finally:
            stop.set()
            thread.join()
        if failure:
            raise BenchmarkError(f"watching PostgreSQL connections failed: {failure[0]}")
        return result, len(seen)

    async def _watch(self, started: Any, stop: Any, seen: set[tuple[int, Any]]) -> None:
        import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

        connection = await asyncpg.connect(self.dsn)
        try:
            since = await connection.fetchval("SELECT clock_timestamp()")
            started.set()
            query = (
                "SELECT pid, backend_start FROM pg_stat_activity "
                "WHERE datname = $1 AND backend_start > $2"
            )
            while True:
                last = stop.is_set()  # one more look after the run ended
                for row in await connection.fetch(query, self.database, since):
                    seen.add((row["pid"], row["backend_start"]))
                if last:
                    return
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await connection.close()


def _best(results: list[LoadResult]) -> LoadResult:
    return max(results, key=lambda result: result.requests_per_second)


def _event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _warm_up(
    connections: ConnectionWatch, wrk: str, url: str, seconds: float, script: Path | None
) -> None:
    """Load ``url`` until a run opens no new PostgreSQL connection (at most MAX_WARMUPS runs).

    A pool opens connections on demand, up to its size: the first runs grow it,
    and only once one opens none is the server in the steady state the
    measured runs' connection counts are about. A server that keeps opening
    connections (churn) is measured anyway, and its runs show it.
    """
    for _ in range(MAX_WARMUPS):
        _, opened = connections.during(functools.partial(run_wrk, wrk, url, seconds, script))
        if opened == 0:
            return


def _compare(
    endpoint: Endpoint,
    script: Path | None,
    wrk: str,
    servers: tuple[Server, Server, Server],
    connections: ConnectionWatch,
    duration: float,
    rounds: int,
    say: ProgressFn,
) -> Comparison:
    """Interleaved rounds of one endpoint: bare, service and (if it has one) same-work runs."""
    bare, app, same_work = servers
    baseline_runs: list[LoadResult] = []
    service_runs: list[LoadResult] = []
    same_work_runs: list[LoadResult] = []
    service_opened: list[int] = []
    same_work_opened: list[int] = []
    for index in range(1, rounds + 1):
        baseline_runs.append(run_wrk(wrk, bare.base_url + "/", duration))
        result, opened = connections.during(
            functools.partial(run_wrk, wrk, app.base_url + endpoint.path, duration, script)
        )
        service_runs.append(result)
        service_opened.append(opened)
        line = (
            f"  {endpoint.label:<36} round {index}/{rounds}: "
            f"service {service_runs[-1].requests_per_second:8.0f} req/s "
            f"(+{service_opened[-1]} conns), "
            f"bare {baseline_runs[-1].requests_per_second:8.0f} req/s"
        )
        if endpoint.same_work:
            result, opened = connections.during(
                functools.partial(
                    run_wrk, wrk, same_work.base_url + endpoint.path, duration, script
                )
            )
            same_work_runs.append(result)
            same_work_opened.append(opened)
            line += (
                f", same-work {same_work_runs[-1].requests_per_second:8.0f} req/s "
                f"(+{same_work_opened[-1]} conns)"
            )
        say(line)
    return Comparison(
        endpoint,
        _best(service_runs),
        _best(baseline_runs),
        same_work=_best(same_work_runs) if same_work_runs else None,
        service_connections=max(service_opened),
        same_work_connections=max(same_work_opened, default=0),
    )


def measure_http(
    *,
    duration: float = DEFAULT_DURATION,
    warmup: float = DEFAULT_WARMUP,
    rounds: int = DEFAULT_ROUNDS,
    admin_url: str = DEFAULT_ADMIN_URL,
    redis_url: str = DEFAULT_REDIS_URL,
    endpoints: tuple[Endpoint, ...] = ENDPOINTS,
    progress: ProgressFn | None = None,
) -> HttpResult:
    """Run every endpoint against the service and the baselines; return the comparisons."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    say = progress or (lambda _message: None)
    wrk = ensure_wrk(say)
    started = time.perf_counter()
    token = secrets.token_urlsafe(32)
    say(f"http: seeding a throwaway database with {SEED_ITEMS} items; Redis {redis_url}")
    flush_redis(redis_url)
    with (
        seeded_database(admin_url) as database_url,
        tempfile.TemporaryDirectory(prefix="bench-http-") as tmp,
        serve("bare", _clean_environment(), "/") as bare,
        serve("service", service_environment(database_url, redis_url, token), "/health") as app,
        serve(
            "same-work",
            {**_clean_environment(), "DATABASE_URL": database_url, "API_TOKEN": token},
            "/api/v1/items?limit=1",
        ) as same_work,
    ):
        connections = ConnectionWatch(admin_url, database_url)
        scripts = {
            "post": post_script(Path(tmp), token),
            "random-item": random_item_script(Path(tmp)),
            "gzip": gzip_script(Path(tmp)),
        }
        say(f"http: loading all {SEED_ITEMS} items once, so that every read is a cache hit")
        with httpx.Client(base_url=app.base_url, timeout=5) as client:
            for item_id in range(1, SEED_ITEMS + 1):
                primed = client.get(f"/api/v1/items/{item_id}")
                if primed.status_code != 200:
                    raise BenchmarkError(f"priming the cache failed: {primed.status_code}")
        run_wrk(wrk, bare.base_url + "/", warmup)
        comparisons = []
        for endpoint in endpoints:
            script = scripts[endpoint.script] if endpoint.script else None
            for server in (app, same_work) if endpoint.same_work else (app,):
                _warm_up(connections, wrk, server.base_url + endpoint.path, warmup, script)
            comparisons.append(
                _compare(
                    endpoint,
                    script,
                    wrk,
                    (bare, app, same_work),
                    connections,
                    duration,
                    rounds,
                    say,
                )
            )
        for server in (app, same_work):
            if server.process.poll() is not None:
                raise BenchmarkError(
                    f"{server.app} died during the benchmark:\n{server.log_tail()}"
                )
    return HttpResult(
        comparisons=tuple(comparisons),
        duration=duration,
        rounds=rounds,
        elapsed_seconds=time.perf_counter() - started,
        loop=_event_loop_name(),
    )


def report(result: HttpResult) -> str:
    """A plain table of both sides and the ratios."""
    rows = [
        f"{'endpoint':<38}{'req/s':>9}{'bare':>9}{'ratio':>7}"
        f"{'p50 ms':>8}{'bare':>7}{'p99 ms':>8}{'bare':>7}{'ratio':>7}"
    ]
    for c in result.comparisons:
        rows.append(
            f"{c.endpoint.label:<38}{c.service.requests_per_second:>9.0f}"
            f"{c.baseline.requests_per_second:>9.0f}{c.throughput_ratio:>6.2f}x"
            f"{c.service.p50_ms:>8.2f}{c.baseline.p50_ms:>7.2f}"
            f"{c.service.p99_ms:>8.2f}{c.baseline.p99_ms:>7.2f}{c.p99_ratio:>6.2f}x"
        )
        if c.same_work is not None:
            rows.append(
                f"{'  vs same-work':<38}{c.service.requests_per_second:>9.0f}"
                f"{c.same_work.requests_per_second:>9.0f}{c.same_work_throughput_ratio:>6.2f}x"
                f"{c.service.p50_ms:>8.2f}{c.same_work.p50_ms:>7.2f}"
                f"{c.service.p99_ms:>8.2f}{c.same_work.p99_ms:>7.2f}{c.same_work_p99_ratio:>6.2f}x"
            )
        rows.append(
            f"{'  new PostgreSQL connections per run':<38}{c.service_connections:>9}"
            f"{c.same_work_connections:>9}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the HTTP benchmark alone."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.http_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--only", choices=[e.path for e in ENDPOINTS], action="append")
    args = parser.parse_args(argv)
    endpoints = tuple(e for e in ENDPOINTS if not args.only or e.path in args.only)
    try:
        result = measure_http(
            duration=args.duration,
            rounds=args.rounds,
            endpoints=endpoints,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
