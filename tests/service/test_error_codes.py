"""The README's list of error codes is exactly what the service sends, and each is sent for real.

``cors_rejected`` had been sent for a while without being documented; this
keeps the list, :data:`service.errors.SENT_CODES` and the code in step.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from service.errors import CODES, SENT_CODES, error_code
from service.main import create_app
from tests.service.conftest import AUTH, free_port, make_settings, open_client
from tests.service.jwt_issuer import AUDIENCE, FakeIssuer

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://app.example.com"


def documented_codes() -> dict[str, int]:
    """``code -> status`` from the README's "Codes:" paragraph."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\nCodes: ")
    paragraph = readme[start : readme.index("\n\n", start + 1)]
    return {code: int(status) for code, status in re.findall(r"`([a-z_]+)`\s+\((\d{3})", paragraph)}


def test_the_readme_lists_exactly_the_codes_the_service_sends() -> None:
    assert documented_codes() == SENT_CODES


def test_every_code_literal_in_the_service_is_listed() -> None:
    literals: set[str] = set()
    for path in (ROOT / "service").rglob("*.py"):
        literals.update(re.findall(r"""\bcode=["']([a-z_]+)["']""", path.read_text()))
    assert literals, "no code= literal found: the pattern is out of date"
    assert literals <= set(SENT_CODES)
    # And the ones derived from a status are what error_code() makes of it.
    for code, status in SENT_CODES.items():
        if code not in literals:
            assert error_code(status) == code
            assert CODES.get(status, code) == code


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> FastAPI:
    """The service on a migrated SQLite copy, with CORS on and a route that fails."""
    database = tmp_path / "app.db"
    shutil.copy(sqlite_template, database)
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{database}", cors_origins=ORIGIN, max_body_bytes=1024
    )
    application = create_app(settings)

    @application.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    return application


async def _sent(client: Any) -> set[tuple[str, int]]:
    items = "/api/v1/items"
    json = {**AUTH, "Content-Type": "application/json"}
    responses = [
        await client.post(items, content=b'{"name": "\xff\xfe", "price": "1"}', headers=json),
        await client.options(
            items,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        ),
        await client.post(items, json={"name": "x", "price": "1"}),
        await client.get(f"{items}/4242"),
        await client.put(items),
        await client.post(items, content=b"x" * 2048, headers=json),
        await client.post(items, content=b"name=x", headers={**AUTH, "Content-Type": "text/plain"}),
        await client.post(items, json={"name": "x", "price": "-1"}, headers=AUTH),
        await client.get("/boom"),
    ]
    return {(r.json()["error"]["code"], r.status_code) for r in responses}


async def test_each_documented_code_is_sent(app: FastAPI) -> None:
    async with open_client(app.state.settings, app) as client:
        sent = await _sent(client)
    # The two 503s need a database that refuses connections.
    down = make_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    async with open_client(down) as client:
        for path in ("/health/ready", "/api/v1/items"):
            response = await client.get(path)
            sent.add((response.json()["error"]["code"], response.status_code))
    sent |= await _sent_in_jwt_mode(app.state.settings)
    # rate_limited: the second read of a window whose quota is one.
    limited = make_settings(database_url=app.state.settings.database_url, rate_limit_reads=1)
    async with open_client(limited) as client:
        for _ in range(2):
            response = await client.get("/api/v1/items")
        sent.add((response.json()["error"]["code"], response.status_code))
    assert sent == set(documented_codes().items())


async def _sent_in_jwt_mode(settings: Any) -> set[tuple[str, int]]:
    """AUTH_MODE=jwt's own codes: a token without the scope, then an issuer that fails."""
    issuer = FakeIssuer().start()
    try:
        jwt_settings = make_settings(
            database_url=settings.database_url,
            auth_mode="jwt",
            auth_issuer=issuer.url,
            auth_audience=AUDIENCE,
            auth_jwks_refresh_seconds=0.05,
        )
        async with open_client(jwt_settings) as client:
            unscoped = {"Authorization": f"Bearer {issuer.token(scope='items:read')}"}
            responses = [await client.post("/api/v1/items", json={}, headers=unscoped)]
            issuer.mode = "error"
            await asyncio.sleep(0.1)
            stranger = {"Authorization": f"Bearer {issuer.token(kid='rotated-away')}"}
            responses.append(await client.post("/api/v1/items", json={}, headers=stranger))
    finally:
        issuer.stop()
    return {(r.json()["error"]["code"], r.status_code) for r in responses}
