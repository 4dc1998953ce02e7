"""Event classification and stage handling, as pure functions (no database, no app)."""

from __future__ import annotations

from typing import Any

import pytest

from service import lambda_runtime as rt

from .events import (
    ALB,
    ALB_MULTI,
    FUNCTION_URL,
    HTTP_API,
    REST_API,
    alb_event,
    http_api_event,
    http_event,
    rest_api_event,
)

EXPECTED_SOURCE = {
    HTTP_API: rt.HTTP_API,
    FUNCTION_URL: rt.FUNCTION_URL,
    REST_API: rt.REST_API,
    ALB: rt.ALB,
    ALB_MULTI: rt.ALB,
}


@pytest.mark.parametrize("source", list(EXPECTED_SOURCE))
def test_each_front_end_is_recognised(source: str) -> None:
    assert rt.http_source(http_event(source, "GET", "/health")) == EXPECTED_SOURCE[source]


def test_http_api_payload_1_0_is_recognised() -> None:
    event = rest_api_event("GET", "/health")
    event["version"] = "1.0"
    assert rt.http_source(event) == rt.HTTP_API


@pytest.mark.parametrize(
    "event",
    [
        {"action": "migrate"},
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
        {"requestContext": {"routeKey": "$connect", "connectionId": "abc"}},
        {},
        [],
        "GET /",
        None,
    ],
)
def test_non_http_events_are_not_http(event: Any) -> None:
    assert rt.http_source(event) is None


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (http_api_event("GET", "/docs"), ""),
        (http_api_event("GET", "/docs", stage="v1"), "/v1"),
        (http_api_event("GET", "/v1/items", stage="v1"), "/v1"),
        (rest_api_event("GET", "/docs", stage="prod"), "/prod"),
        # A stage whose name is also the first path segment is still stripped once only.
        (rest_api_event("GET", "/api/v1/items", stage="api"), "/api"),
        # On a custom domain the client's path carries no stage.
        (rest_api_event("GET", "/docs", stage="prod", custom_domain="api.example.com"), ""),
        (alb_event("GET", "/prod/docs"), ""),
    ],
)
def test_stage_prefix(event: dict[str, Any], expected: str) -> None:
    source = rt.http_source(event)
    assert source is not None
    assert rt.stage_prefix(event, source) == expected


def test_rest_api_paths_put_the_stage_back_as_root_path() -> None:
    event = rest_api_event("GET", "/api/v1/items", stage="api")
    # Mangum derives the path from `path`, which has no stage.
    assert rt.asgi_paths(event, rt.REST_API, "/api/v1/items") == ("/api", "/api/api/v1/items")


def test_http_api_paths_keep_the_stage_as_root_path() -> None:
    event = http_api_event("GET", "/api/v1/items", stage="v1")
    assert rt.asgi_paths(event, rt.HTTP_API, "/v1/api/v1/items") == ("/v1", "/v1/api/v1/items")


def test_default_stage_paths_are_untouched() -> None:
    event = http_api_event("GET", "/api/v1/items")
    assert rt.asgi_paths(event, rt.HTTP_API, "/api/v1/items") == ("", "/api/v1/items")


@pytest.mark.parametrize(
    ("event", "fragments"),
    [
        ({"Records": [{"eventSource": "aws:sqs"}]}, ["[Records]", "records from aws:sqs"]),
        ({"Records": [{"EventSource": "aws:sns"}]}, ["records from aws:sns"]),
        (
            {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
            ["[detail, detail-type, source]", "EventBridge event from aws.events"],
        ),
        ({"requestContext": {"connectionId": "x"}}, ["not an HTTP request"]),
        ({}, ["an empty object"]),
        ([1, 2], ["an array"]),
        ("hello", ["a string"]),
        (3, ["a number"]),
        (None, ["null"]),
    ],
)
def test_unsupported_events_are_described_by_shape(event: Any, fragments: list[str]) -> None:
    description = rt.describe_event(event)
    for fragment in fragments:
        assert fragment in description


def test_descriptions_name_keys_but_never_values() -> None:
    secret = "s3cr3t-value-that-must-not-be-echoed"
    description = rt.describe_event({"password": secret, "user": "alice"})
    assert secret not in description
    assert "alice" not in description
    assert "[password, user]" in description


def test_long_key_lists_are_cut_short() -> None:
    description = rt.describe_event({f"k{i:02d}": i for i in range(21)})
    assert "k07" in description
    assert "k08" not in description
    assert "(13 more)" in description
