"""Error envelopes, request ids, security headers, CORS and the access log."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from service.config import Settings
from service.main import create_app
from tests.service.conftest import make_settings, open_client

HEX_ID = re.compile(r"[0-9a-f]{32}")


async def test_unknown_route_is_a_404_envelope(client: Any) -> None:
    response = await client.get("/no/such/thing", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "No route matches GET /no/such/thing",
            "request_id": "abc-123",
        }
    }


async def test_wrong_method_is_a_405_envelope_with_allow(client: Any) -> None:
    response = await client.put("/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert error["message"] == "Method PUT is not allowed on /health; allowed: GET, HEAD, OPTIONS"
    assert error["request_id"] == response.headers["x-request-id"]


async def test_validation_error_lists_every_field(client: Any) -> None:
    response = await client.post(
        "/api/v1/items",
        json={"name": "", "price": "x"},
        headers={"Authorization": "Bearer test-token-0123456789abcdef"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {tuple(d["loc"]) for d in error["details"]} == {("body", "name"), ("body", "price")}
    assert error["message"].endswith("(and 1 more)")


def _app_with_a_crashing_route(settings: Settings) -> Any:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("secret internals: password=hunter2")

    return app


async def test_unhandled_error_is_a_generic_500_with_traceback_only_in_the_log(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app_with_a_crashing_route(settings)
    async with open_client(settings, app) as client:
        capsys.readouterr()
        response = await client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Internal server error; quote the request_id",
            "request_id": "req-500",
        }
    }
    assert "hunter2" not in response.text
    assert response.headers["x-request-id"] == "req-500"
    assert response.headers["x-content-type-options"] == "nosniff"

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    crash = next(line for line in lines if line.get("event") == "unhandled error")
    assert crash["request_id"] == "req-500"
    assert crash["level"] == "error"
    assert "Traceback" in crash["exception"]
    assert "ValueError" in crash["exception"]
    access = next(line for line in lines if line.get("event") == "request")
    assert access["status"] == 500


async def test_request_id_is_echoed_or_generated(client: Any) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "trace.42:a-b_c"})
    assert echoed.headers["x-request-id"] == "trace.42:a-b_c"

    generated = await client.get("/health")
    assert HEX_ID.fullmatch(generated.headers["x-request-id"])
    other = await client.get("/health")
    assert other.headers["x-request-id"] != generated.headers["x-request-id"]

    for hostile in ["x" * 129, "has space", "new\u00e9line"]:
        response = await client.get("/health", headers={"X-Request-ID": hostile.encode()})
        assert HEX_ID.fullmatch(response.headers["x-request-id"]), hostile


async def test_security_headers_and_hsts_only_over_https(client: Any) -> None:
    plain = await client.get("/health")
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["x-frame-options"] == "DENY"
    assert plain.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in plain.headers

    https = await client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["strict-transport-security"].startswith("max-age=")
    error = await client.get("/missing", headers={"X-Forwarded-Proto": "https, http"})
    assert error.status_code == 404
    assert "strict-transport-security" in error.headers
    assert error.headers["x-frame-options"] == "DENY"


async def test_cors_allows_only_configured_origins(tmp_path: Any, sqlite_template: Any) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{sqlite_template}",
        cors_origins="https://app.example.com, https://admin.example.com",
    )
    async with open_client(settings) as client:
        preflight = await client.options(
            "/api/v1/items",
            headers={
                "Origin": "https://admin.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://admin.example.com"
        assert "x-request-id" in preflight.headers

        simple = await client.get("/health", headers={"Origin": "https://app.example.com"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example.com"

        denied = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in denied.headers


async def test_no_cors_headers_without_configured_origins(client: Any) -> None:
    response = await client.get("/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


async def test_one_json_access_log_line_per_request(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await client.get(
        "/api/v1/items?limit=5&token=should-not-be-logged", headers={"X-Request-ID": "r1"}
    )
    await client.get("/nowhere", headers={"X-Request-ID": "r2"})
    out = capsys.readouterr().out
    access = [
        json.loads(line) for line in out.splitlines() if line and '"component": "access"' in line
    ]
    assert len(access) == 2
    first, second = access
    assert {k: first[k] for k in ("method", "path", "status", "request_id")} == {
        "method": "GET",
        "path": "/api/v1/items",
        "status": 200,
        "request_id": "r1",
    }
    assert isinstance(first["duration_ms"], float | int)
    assert first["duration_ms"] >= 0
    assert (second["status"], second["request_id"]) == (404, "r2")
    assert "should-not-be-logged" not in out


async def test_docs_are_served_outside_production(client: Any) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/items/{item_id}" in schema["paths"]


async def test_docs_are_hidden_in_production(sqlite_template: Any) -> None:
    settings = make_settings(environment="production", database_url="postgresql+asyncpg://u@h/db")
    app = create_app(settings)
    assert app.docs_url is None
    assert app.openapi_url is None
    assert app.redoc_url is None
