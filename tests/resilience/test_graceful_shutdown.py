"""SIGTERM: in-flight requests complete, new connections are refused (ECS stop timeout)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx

from service.config import Settings
from tests.resilience.conftest import FaultProxy, free_port, port_open, through

ROOT = Path(__file__).resolve().parents[2]
# Added by the proxy to every database reply: the in-flight request takes seconds.
DB_REPLY_DELAY = 0.6


async def test_sigterm_finishes_in_flight_requests_and_refuses_new_ones(
    database: str, pg_proxy: FaultProxy, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=through(pg_proxy, database),
        MIGRATE_ON_START="false",
        LOG_LEVEL="WARNING",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the server did not become ready in 30 s"
                await asyncio.sleep(0.1)

            pg_proxy.delay = DB_REPLY_DELAY
            started = time.monotonic()
            in_flight = asyncio.create_task(client.get("/api/v1/items"))
            await asyncio.sleep(DB_REPLY_DELAY / 2)
            assert not in_flight.done()

            process.send_signal(signal.SIGTERM)
            # The listener closes at once, while the in-flight request is still running.
            await _wait_until_refused(port, within=3)
            assert not in_flight.done(), "the request finished before the listener closed"
            assert process.returncode is None

            response = await in_flight
            assert response.status_code == 200, response.text
            assert response.json()["total"] == 0
            assert time.monotonic() - started > 2 * DB_REPLY_DELAY  # it really was slow
            # uvicorn re-raises the signal once it has drained, so the exit is "by SIGTERM".
            assert await asyncio.wait_for(process.wait(), timeout=15) in {0, -signal.SIGTERM}
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()


async def _wait_until_refused(port: int, within: float) -> None:
    deadline = time.monotonic() + within
    while port_open(port):
        assert time.monotonic() < deadline, f"port {port} still accepts connections after SIGTERM"
        await asyncio.sleep(0.02)
