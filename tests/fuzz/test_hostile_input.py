"""Oversized bodies, malformed JSON and unicode edge cases all get the envelope, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fuzz.conftest import AUTH, BODY_LIMIT

ITEMS = "/api/v1/items"
JSON = {"Content-Type": "application/json", **AUTH}


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is ``status`` with the error envelope carrying ``code`` and the request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return error


# --- oversized bodies -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_body_over_the_limit_with_content_length_is_413(client: Any, method: str) -> None:
    body = json.dumps({"name": "x", "description": "d" * BODY_LIMIT, "price": "1"})
    path = ITEMS if method == "POST" else f"{ITEMS}/1"
    response = await client.request(method, path, content=body, headers=JSON)
    error = assert_envelope(response, 413, "payload_too_large")
    assert str(BODY_LIMIT) in error["message"]


async def test_a_chunked_body_over_the_limit_is_413(client: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "x", "description": "'
        for _ in range(BODY_LIMIT // 512 + 1):
            yield b"d" * 512
        yield b'", "price": "1"}'

    # A generator body has no Content-Length: the limit is enforced while reading.
    response = await client.post(ITEMS, content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "payload_too_large")


async def test_a_body_just_under_the_limit_is_read(client: Any) -> None:
    skeleton = json.dumps({"name": "x", "description": "", "price": "1"})
    body = skeleton.replace('""', '"' + "d" * (BODY_LIMIT - len(skeleton)) + '"')
    assert len(body.encode()) == BODY_LIMIT
    response = await client.post(ITEMS, content=body, headers=JSON)
    # Read and validated: the description is longer than the column allows.
    assert_envelope(response, 422, "validation_error")


async def test_an_oversized_body_on_an_unknown_route_is_still_413(client: Any) -> None:
    response = await client.post("/nowhere", content=b"x" * (BODY_LIMIT + 1), headers=JSON)
    assert_envelope(response, 413, "payload_too_large")


# --- malformed JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "x", "price": ',
        b"{'name': 'x', 'price': 1}",
        b'{"name": "x", "price": 1,}',
        b"[]",
        b"null",
        b'"a string"',
        b"",
        b'{"name": "\xff\xfe", "price": "1"}',
        b'{"name": "x", "price": NaN}',
        b'{"name": "x", "price": "Infinity"}',
        b'{"name": "x", "price": 1e400}',
        b'{"name": "x", "price": "1", "name": 5}',
        b'{"name": ' * 400,  # deep nesting, within the body limit
        b"[" * 3000,
    ],
    ids=lambda body: repr(body[:24]),
)
async def test_malformed_json_is_a_4xx_envelope(client: Any, body: bytes) -> None:
    response = await client.post(ITEMS, content=body, headers=JSON)
    if response.status_code == 400:  # bytes that are not UTF-8 fail before JSON parsing
        assert_envelope(response, 400, "bad_request")
    else:
        assert_envelope(response, 422, "validation_error")


async def test_a_form_body_is_a_415_envelope(client: Any) -> None:
    response = await client.post(ITEMS, data={"name": "x", "price": "1"}, headers=AUTH)
    error = assert_envelope(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]


# --- unicode ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "😀" * 200,  # astral characters, at the length limit
        "e\u0301\u0302\u0303",  # combining marks
        "\u202eevil\u202c",  # bidi override
        "zero\u200bwidth\ufeff",
        "中文名称",
        "\U0010fffd",  # the last private-use code point
    ],
    ids=["astral-200", "combining", "bidi", "zero-width", "cjk", "max-code-point"],
)
async def test_unicode_names_round_trip(client: Any, name: str) -> None:
    created = await client.post(ITEMS, json={"name": name, "price": "1"}, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == name
    fetched = await client.get(f"{ITEMS}/{created.json()['id']}")
    assert fetched.json()["name"] == name


@pytest.mark.parametrize(
    "raw_name",
    [
        '"\\ud800"',  # a lone high surrogate, legal JSON but not encodable text
        '"a\\udc00b"',  # a lone low surrogate
        '"nul\\u0000byte"',
        '"' + "😀" * 201 + '"',  # one over the limit, counted in characters
        '"   "',  # only whitespace: empty once stripped
    ],
    ids=["high-surrogate", "low-surrogate", "nul", "astral-201", "blank"],
)
async def test_unstorable_text_is_a_422_envelope(client: Any, raw_name: str) -> None:
    body = '{"name": ' + raw_name + ', "price": "1"}'
    response = await client.post(ITEMS, content=body.encode(), headers=JSON)
    error = assert_envelope(response, 422, "validation_error")
    assert error["details"][0]["loc"] == ["body", "name"]
    # The body is validated before the item is looked up: 422 even for a missing id.
    patched = await client.patch(f"{ITEMS}/1", content=body.encode(), headers=JSON)
    patch_error = assert_envelope(patched, 422, "validation_error")
    assert patch_error["details"][0]["loc"] == ["body", "name"]


@pytest.mark.parametrize(
    "path",
    [
        f"{ITEMS}/%EF%BC%91",  # a fullwidth digit one
        f"{ITEMS}/%F0%9F%98%80",
        f"{ITEMS}/%C0%AF",  # an overlong encoding of "/"
        f"{ITEMS}/1%00",
        f"{ITEMS}?limit=%EF%BC%95",
    ],
)
async def test_unicode_in_the_url_is_a_4xx_envelope(client: Any, path: str) -> None:
    response = await client.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] in {"validation_error", "not_found"}


async def test_a_unicode_request_id_is_replaced(client: Any) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "ré-quest".encode()})
    assert response.status_code == 200
    assert response.headers["x-request-id"].isascii()
    assert response.headers["x-request-id"] != "ré-quest"
