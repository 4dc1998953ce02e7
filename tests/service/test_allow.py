"""405s name every method the path allows; OPTIONS answers with them; HEAD works wherever GET does.

Starlette's router reported only the methods of the first route whose path
matched, so ``PUT /api/v1/items`` claimed only GET was allowed (POST is too) and
``/api/v1/items/1`` hid PATCH and DELETE.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from tests.service.conftest import AUTH, make_settings, open_client

READ_ONLY = "GET, HEAD, OPTIONS"
# Every route of the app, by a path that reaches it, with the true Allow set.
ALLOW = {
    "/health": READ_ONLY,
    "/health/ready": READ_ONLY,
    "/api/v1/items": "GET, HEAD, OPTIONS, POST",
    "/api/v1/items/1": "DELETE, GET, HEAD, OPTIONS, PATCH",
    "/docs": READ_ONLY,
    "/docs/oauth2-redirect": READ_ONLY,
    "/redoc": READ_ONLY,
    "/openapi.json": READ_ONLY,
}
# Per path, methods that no route there serves.
NOT_ALLOWED = {
    "/health": ["PUT", "POST", "DELETE"],
    "/health/ready": ["PATCH"],
    "/api/v1/items": ["PUT", "PATCH", "DELETE"],
    "/api/v1/items/1": ["PUT", "POST"],
    "/docs": ["POST"],
    "/docs/oauth2-redirect": ["DELETE"],
    "/redoc": ["PUT"],
    "/openapi.json": ["PATCH"],
}


def test_every_route_is_covered(tmp_path: Path) -> None:
    from service.main import create_app

    app = create_app(make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    paths = {getattr(route, "path", None) for route in app.router.routes}
    assert {path.replace("{item_id}", "1") for path in paths if path} == set(ALLOW)


@pytest.mark.parametrize(
    ("path", "method"),
    [(path, method) for path, methods in NOT_ALLOWED.items() for method in methods],
)
async def test_a_405_names_every_allowed_method(client: Any, path: str, method: str) -> None:
    response = await client.request(method, path, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == ALLOW[path]
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert error["message"] == f"Method {method} is not allowed on {path}; allowed: {ALLOW[path]}"
    assert error["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("path", list(ALLOW))
async def test_options_answers_204_with_the_allow_set(client: Any, path: str) -> None:
    response = await client.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == ALLOW[path]
    assert response.content == b""
    assert response.headers["x-request-id"]


async def test_options_on_an_unknown_path_is_a_404(client: Any) -> None:
    response = await client.options("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/health", "/api/v1/items", "/openapi.json"])
async def test_head_is_get_without_the_body(client: Any, path: str) -> None:
    get = await client.get(path)
    head = await client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["x-content-type-options"] == "nosniff"


async def test_head_of_a_missing_item_is_a_404_without_a_body(client: Any) -> None:
    response = await client.head("/api/v1/items/4242")
    assert response.status_code == 404
    assert response.content == b""


async def test_head_of_a_cached_item_is_served(client: Any) -> None:
    created = await client.post("/api/v1/items", json={"name": "x", "price": "1"}, headers=AUTH)
    path = f"/api/v1/items/{created.json()['id']}"
    await client.get(path)  # now cached
    response = await client.head(path)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


ORIGIN = "https://app.example.com"


@pytest.fixture
def cors_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    """Settings on a copy of the migrated SQLite template, with one allowed CORS origin."""
    database = tmp_path / "app.db"
    shutil.copy(sqlite_template, database)
    return make_settings(database_url=f"sqlite+aiosqlite:///{database}", cors_origins=ORIGIN)


async def test_with_cors_options_without_preflight_headers_gets_the_allow_set(
    cors_settings: Settings,
) -> None:
    origin = ORIGIN
    async with open_client(cors_settings) as client:
        plain = await client.options("/api/v1/items")
        preflight = await client.options(
            "/api/v1/items",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
    assert plain.status_code == 204
    assert plain.headers["allow"] == ALLOW["/api/v1/items"]
    # The preflight is still the CORS middleware's answer.
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "allow" not in preflight.headers
