"""Body errors a client can act on: where the JSON breaks, and which media type to send.

FastAPI reported malformed JSON as ``body.28: JSON decode error`` (a character
offset that reads like a field name) and a body without a JSON Content-Type as
"Input should be a valid dictionary or object to extract fields from".
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import AUTH

ITEMS = "/api/v1/items"
JSON = {**AUTH, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "line", "column", "reason"),
    [
        (b'{"name": "x", "price": ', 1, 24, "Expecting value"),
        (b'{\n  "name": "x",\n  "price": \n}', 4, 1, "Expecting value"),
        (b'{"name": "x" "price": "1"}', 1, 14, "Expecting ',' delimiter"),
        (b"{'name': 'x'}", 1, 2, "Expecting property name enclosed in double quotes"),
    ],
)
async def test_malformed_json_says_where_and_what(
    client: Any, body: bytes, line: int, column: int, reason: str
) -> None:
    response = await client.post(ITEMS, content=body, headers=JSON)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    expected = f"invalid JSON at line {line}, column {column}: {reason}"
    assert error["message"] == f"body: {expected}"
    assert error["details"] == [
        {
            "loc": ["body"],
            "message": expected,
            "type": "json_invalid",
            "line": line,
            "column": column,
        }
    ]


async def test_field_errors_keep_their_loc(client: Any) -> None:
    response = await client.post(ITEMS, json={"name": "x", "price": "-1"}, headers=AUTH)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["loc"] == ["body", "price"]
    assert error["message"].startswith("body.price: ")


@pytest.mark.parametrize(
    ("headers", "received"),
    [
        ({}, "none sent"),
        ({"Content-Type": "text/plain"}, "received 'text/plain'"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "received 'application/x-www"),
        ({"Content-Type": "application/xml; charset=utf-8"}, "received 'application/xml'"),
    ],
    ids=["none", "text", "form", "xml"],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_body_that_is_not_json_is_a_415(
    client: Any, method: str, headers: dict[str, str], received: str
) -> None:
    path = ITEMS if method == "POST" else f"{ITEMS}/1"
    response = await client.request(
        method, path, content=b'{"name": "x", "price": "1"}', headers={**AUTH, **headers}
    )
    assert response.status_code == 415, response.text
    assert response.headers["accept"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "Content-Type must be application/json" in error["message"]
    assert received in error["message"]
    assert (await client.get(ITEMS)).json()["total"] == 0


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_media_types_with_parameters_or_suffixes_are_accepted(
    client: Any, content_type: str
) -> None:
    response = await client.post(
        ITEMS,
        content=b'{"name": "x", "price": "1"}',
        headers={**AUTH, "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text


async def test_the_token_is_checked_before_the_media_type(client: Any) -> None:
    response = await client.post(ITEMS, content=b"name=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 401


async def test_an_empty_body_is_a_missing_field_not_a_415(client: Any) -> None:
    response = await client.post(ITEMS, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body"]
