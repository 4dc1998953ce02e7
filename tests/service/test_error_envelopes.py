"""Errors the envelope must cover: refused CORS preflights, and OSErrors not from the database."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from service.main import create_app
from tests.service.conftest import make_settings, open_client

ORIGIN = "https://app.example.com"


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_template: Path) -> Any:
    """Settings on a copy of the migrated SQLite template, with one allowed CORS origin."""
    database = tmp_path / "app.db"
    database.write_bytes(sqlite_template.read_bytes())
    return make_settings(database_url=f"sqlite+aiosqlite:///{database}", cors_origins=ORIGIN)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, "origin"),
        ({"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}, "method"),
    ],
)
async def test_a_refused_preflight_gets_the_envelope(
    sqlite_settings: Any, headers: dict[str, str], reason: str
) -> None:
    async with open_client(sqlite_settings) as client:
        response = await client.options(
            "/api/v1/items", headers={**headers, "X-Request-ID": "preflight-1"}
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "cors_rejected"
    assert error["request_id"] == "preflight-1"
    assert reason in error["message"]
    assert response.headers["x-request-id"] == "preflight-1"
    assert "origin" in response.headers["vary"].lower()


async def test_an_allowed_preflight_is_unchanged(sqlite_settings: Any) -> None:
    async with open_client(sqlite_settings) as client:
        response = await client.options(
            "/api/v1/items", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN


def _app_raising(settings: Any, error: OSError) -> FastAPI:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


@pytest.mark.parametrize(
    "error",
    [TimeoutError("upstream call timed out"), OSError(28, "No space left on device")],
    ids=["TimeoutError", "OSError"],
)
async def test_an_oserror_outside_the_database_is_a_500(
    sqlite_settings: Any, error: OSError
) -> None:
    async with open_client(sqlite_settings, _app_raising(sqlite_settings, error)) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "retry-after" not in response.headers


async def test_a_refused_database_connection_is_still_a_503(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port: asyncpg's connect raises ConnectionRefusedError.
    settings = make_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    async with open_client(settings) as client:
        response = await client.get("/api/v1/items")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
