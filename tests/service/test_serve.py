"""`python -m service serve` migrates, then serves on HOST:PORT (the `make run` path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.config import Settings
from service.migrations.revision import head_revision
from tests.service.conftest import free_port

# The newest migration: what `migrate` brings a database to.
HEAD = head_revision()

ROOT = Path(__file__).resolve().parents[2]


def test_serve_migrates_and_serves_health_docs_and_items(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start within 30 s"
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        assert "server" not in health.headers
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        # The table exists, so the migrations ran before serving.
        assert httpx.get(f"{base}/api/v1/items", timeout=5).json()["total"] == 0
        https = httpx.get(f"{base}/health", headers={"X-Forwarded-Proto": "https"}, timeout=5)
        assert "strict-transport-security" in https.headers
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0].decode()
    assert f'"revision": "{HEAD}"' in output
    assert '"path": "/health"' in output
