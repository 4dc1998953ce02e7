"""``lambda_handler.handler`` end to end on PostgreSQL, through every HTTP front end.

Each test runs in a cold execution environment on its own database, migrated
by the ``{"action": "migrate"}`` event (see conftest.postgres_env).
"""

from __future__ import annotations

import pytest

from .conftest import AUTH, Invoke
from .events import (
    ALB_MULTI,
    FUNCTION_URL,
    HTTP_API,
    REST_API,
    SOURCES,
    http_api_event,
    http_event,
    rest_api_event,
    result_header,
    result_headers,
    result_json,
    result_text,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_env")]

WIDGET = {"name": "Widget", "description": "A small widget", "price": "9.99"}


@pytest.mark.parametrize("source", SOURCES)
def test_create_read_and_list(source: str, invoke: Invoke) -> None:
    created = invoke(http_event(source, "POST", "/api/v1/items", body=WIDGET, headers=AUTH))
    assert created["statusCode"] == 201, result_text(created)
    item = result_json(created)
    assert item["name"] == "Widget"
    assert item["price"] == "9.99"
    assert isinstance(item["id"], int)

    read = invoke(http_event(source, "GET", f"/api/v1/items/{item['id']}"))
    assert read["statusCode"] == 200
    assert result_json(read) == item
    assert result_header(read, "content-type") == "application/json"

    invoke(http_event(source, "POST", "/api/v1/items", body={**WIDGET, "name": "B"}, headers=AUTH))
    listed = invoke(http_event(source, "GET", "/api/v1/items", query={"limit": "1"}))
    assert listed["statusCode"] == 200
    page = result_json(listed)
    assert page["total"] == 2
    assert page["limit"] == 1
    assert [entry["id"] for entry in page["items"]] == [item["id"]]


@pytest.mark.parametrize("source", SOURCES)
def test_errors_use_the_envelope(source: str, invoke: Invoke) -> None:
    missing = invoke(http_event(source, "GET", "/api/v1/items/424242"))
    assert missing["statusCode"] == 404
    error = result_json(missing)["error"]
    assert error["code"] == "not_found"
    assert "424242" in error["message"]
    assert error["request_id"] == result_header(missing, "x-request-id")

    unauthorised = invoke(http_event(source, "POST", "/api/v1/items", body=WIDGET))
    assert unauthorised["statusCode"] == 401
    assert result_json(unauthorised)["error"]["code"] == "unauthorized"
    assert result_header(unauthorised, "www-authenticate") == "Bearer"

    invalid = invoke(http_event(source, "POST", "/api/v1/items", body={"name": ""}, headers=AUTH))
    assert invalid["statusCode"] == 422
    body = result_json(invalid)
    assert body["error"]["code"] == "validation_error"
    assert "Traceback" not in result_text(invalid)


@pytest.mark.parametrize("source", SOURCES)
def test_docs_and_health_resolve_as_on_fargate(source: str, invoke: Invoke) -> None:
    docs = invoke(http_event(source, "GET", "/docs", headers={"Accept": "text/html"}))
    assert docs["statusCode"] == 200
    assert "swagger-ui" in result_text(docs)

    openapi = invoke(http_event(source, "GET", "/openapi.json"))
    assert openapi["statusCode"] == 200
    assert "/api/v1/items" in result_json(openapi)["paths"]

    health = invoke(http_event(source, "GET", "/health"))
    assert health["statusCode"] == 200
    assert result_json(health) == {"status": "ok"}


@pytest.mark.parametrize("source", SOURCES)
def test_request_id_and_security_headers(source: str, invoke: Invoke) -> None:
    result = invoke(http_event(source, "GET", "/health", headers={"X-Request-ID": "abc-123"}))
    assert result_header(result, "x-request-id") == "abc-123"
    assert result_header(result, "x-content-type-options") == "nosniff"
    # Every front end here terminates HTTPS and says so in X-Forwarded-Proto.
    assert result_header(result, "strict-transport-security") is not None


def test_alb_multi_value_results_use_multi_value_headers(invoke: Invoke) -> None:
    result = invoke(http_event(ALB_MULTI, "GET", "/health"))
    assert "multiValueHeaders" in result
    assert "headers" not in result
    assert result_headers(result)["x-request-id"]


@pytest.mark.parametrize("source", [HTTP_API, FUNCTION_URL, REST_API])
def test_base64_encoded_bodies_are_decoded(source: str, invoke: Invoke) -> None:
    event = http_event(source, "POST", "/api/v1/items", body=WIDGET, headers=AUTH, base64_body=True)
    result = invoke(event)
    assert result["statusCode"] == 201, result_text(result)
    assert result_json(result)["name"] == "Widget"


# --- stages: no prefix may leak into routing -------------------------------------------------


@pytest.mark.parametrize("stage", ["prod", "api"])
def test_rest_api_stage_does_not_leak_into_routing(stage: str, invoke: Invoke) -> None:
    items = invoke(rest_api_event("GET", "/api/v1/items", stage=stage))
    assert items["statusCode"] == 200, result_text(items)
    assert result_json(items)["total"] == 0

    docs = invoke(rest_api_event("GET", "/docs", stage=stage))
    assert docs["statusCode"] == 200
    # The browser is at /<stage>/docs, so the page must fetch /<stage>/openapi.json.
    assert f"'/{stage}/openapi.json'" in result_text(docs)

    openapi = result_json(invoke(rest_api_event("GET", "/openapi.json", stage=stage)))
    assert openapi["servers"] == [{"url": f"/{stage}"}]


def test_rest_api_on_a_custom_domain_has_no_stage_prefix(invoke: Invoke) -> None:
    event = rest_api_event("GET", "/docs", stage="prod", custom_domain="api.example.com")
    docs = invoke(event)
    assert docs["statusCode"] == 200
    assert "'/openapi.json'" in result_text(docs)


def test_http_api_named_stage_does_not_leak_into_routing(invoke: Invoke) -> None:
    items = invoke(http_api_event("GET", "/api/v1/items", stage="v1"))
    assert items["statusCode"] == 200, result_text(items)
    docs = invoke(http_api_event("GET", "/docs", stage="v1"))
    assert docs["statusCode"] == 200
    assert "'/v1/openapi.json'" in result_text(docs)


def test_http_api_default_stage_serves_plain_paths(invoke: Invoke) -> None:
    docs = invoke(http_api_event("GET", "/docs"))
    assert docs["statusCode"] == 200
    assert "'/openapi.json'" in result_text(docs)
    assert invoke(http_api_event("GET", "/nope"))["statusCode"] == 404
