"""Events that are not HTTP requests this function serves get the unsupported-event error.

Authorizer payloads are the tricky ones: a REQUEST authorizer's input copies the
request it guards (``httpMethod``/``path``, or ``requestContext.http``), so it
looked like an HTTP event and was answered with a 404 the authorizer protocol
cannot use. Each refusal costs nothing: no settings load, no app start-up.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service import lambda_runtime as rt

from .conftest import AUTH, Invoke, StartupSpy
from .events import (
    AUTHORIZER_TOKEN,
    SOURCES,
    dynamodb_event,
    eventbridge_event,
    http_api_v1_authorizer_event,
    http_api_v2_authorizer_event,
    http_event,
    rest_request_authorizer_event,
    rest_token_authorizer_event,
    result_header,
    result_json,
    s3_event,
    sns_event,
    sqs_event,
    vpc_lattice_v1_event,
    vpc_lattice_v2_event,
    websocket_event,
)

REFUSED: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "rest-token-authorizer": (rest_token_authorizer_event, "TOKEN authorizer event"),
    "rest-request-authorizer": (
        lambda: rest_request_authorizer_event("GET", "/api/v1/items"),
        "REQUEST authorizer event",
    ),
    "http-api-v1-authorizer": (
        lambda: http_api_v1_authorizer_event("GET", "/api/v1/items"),
        "REQUEST authorizer event",
    ),
    "http-api-v2-authorizer": (
        lambda: http_api_v2_authorizer_event("POST", "/api/v1/items"),
        "REQUEST authorizer event",
    ),
    "websocket-connect": (lambda: websocket_event("$connect"), "WebSocket event"),
    "websocket-message": (lambda: websocket_event("$default"), "WebSocket event"),
    "vpc-lattice-v1": (lambda: vpc_lattice_v1_event("GET", "/health"), "VPC Lattice event"),
    "vpc-lattice-v2": (lambda: vpc_lattice_v2_event("GET", "/health"), "VPC Lattice event"),
    "sqs": (sqs_event, "records from aws:sqs"),
    "sns": (sns_event, "records from aws:sns"),
    "s3": (s3_event, "records from aws:s3"),
    "eventbridge": (eventbridge_event, "EventBridge event from aws.events"),
    "dynamodb": (dynamodb_event, "records from aws:dynamodb"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_non_http_events_are_not_classified_as_http(name: str) -> None:
    build, _ = REFUSED[name]
    assert rt.http_source(build()) is None


@pytest.mark.parametrize("name", list(REFUSED))
def test_non_http_events_get_the_unsupported_event_error(
    name: str, invoke: Invoke, startups: StartupSpy
) -> None:
    build, origin = REFUSED[name]
    result = invoke(build())
    error = result["error"]
    assert error["code"] == "unsupported_event"
    assert error["message"].startswith("unsupported event: received an object with keys [")
    assert origin in error["message"]
    assert error["request_id"]
    assert "statusCode" not in result
    # Refused before any start-up work.
    assert (startups.settings_loads, startups.app_startups) == (0, 0)


def test_authorizer_refusals_never_echo_the_token(invoke: Invoke) -> None:
    for name in ("rest-token-authorizer", "http-api-v1-authorizer", "http-api-v2-authorizer"):
        build, _ = REFUSED[name]
        assert AUTHORIZER_TOKEN not in str(invoke(build()))


# --- a body flagged base64 that is not ----------------------------------------------------


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The function on a SQLite file: a refused body never reaches the database."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'lambda.db'}")


@pytest.mark.usefixtures("sqlite_env")
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "body", ["not base64!", "abc", "ü"], ids=["punctuation", "padding", "non-ascii"]
)
def test_a_body_that_is_not_base64_is_a_400_envelope(
    source: str, body: str, invoke: Invoke
) -> None:
    event = http_event(source, "POST", "/api/v1/items", body={"name": "x"}, headers=AUTH)
    event["body"], event["isBase64Encoded"] = body, True
    result = invoke(event)
    assert result["statusCode"] == 400
    assert result_header(result, "content-type") == "application/json"
    error = result_json(result)["error"]
    assert error["code"] == "bad_request"
    assert "isBase64Encoded" in error["message"]
    assert error["request_id"] == result_header(result, "x-request-id")
    assert result_header(result, "x-content-type-options") == "nosniff"


@pytest.mark.usefixtures("sqlite_env")
def test_a_valid_base64_body_still_reaches_the_app(invoke: Invoke) -> None:
    event = http_event("http-api", "POST", "/api/v1/items", body={"name": "x"}, headers=AUTH)
    event["body"] = base64.b64encode(b'{"name": ').decode()
    event["isBase64Encoded"] = True
    result = invoke(event)
    # Decoded and parsed by the app: the JSON is cut short, so the app says where.
    assert result["statusCode"] == 422, result
    assert "line 1, column 10" in result_json(result)["error"]["message"]
