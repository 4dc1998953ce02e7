"""Response compression: negotiation, what is never compressed, Vary, streaming, HEAD."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Sequence
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from service import compression
from service.compression import Compression, accepts_gzip
from service.config import Settings
from service.middleware import SECURITY_HEADERS, RequestContextMiddleware
from tests.service.conftest import AUTH, make_settings, open_client

JSON_BODY = json.dumps([{"id": n, "name": f"item {n}", "price": "9.99"} for n in range(100)])
LARGE = JSON_BODY.encode()
assert len(LARGE) > 2 * compression.MINIMUM_SIZE


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([b"gzip"], True),
        ([b"GZip"], True),
        ([b"x-gzip"], True),
        ([b"gzip, deflate, br"], True),
        ([b"br;q=1.0, gzip;q=0.8"], True),
        ([b"gzip;q=0.001"], True),
        ([b"gzip ; q=1"], True),
        ([b"*"], True),
        ([b"identity, *;q=0.5"], True),
        ([b"br", b"gzip"], True),  # two header lines
        ([b"gzip;q=0"], False),
        ([b"gzip; q=0.000"], False),
        ([b"gzip;q=0, *"], False),  # listed gzip wins over the wildcard
        ([b"*;q=0"], False),
        ([b"deflate, br"], False),
        ([b"identity"], False),
        ([b"gzip;q=abc"], False),  # malformed weight: no
        ([b"gzip;q=2"], False),  # out of range: no
        ([b"gzipped"], False),  # a substring is not the coding
        ([b""], False),
        ([], False),  # no header: identity
    ],
)
def test_accept_encoding_is_parsed_with_weights(values: list[bytes], expected: bool) -> None:
    assert accepts_gzip(values) is expected


# --- the middleware on hand-made responses ------------------------------------------------


def response_app(
    body: bytes | Sequence[bytes],
    *,
    status: int = 200,
    headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"application/json"),),
) -> Any:
    """An ASGI app answering ``body`` (one message, or several streamed chunks)."""
    chunks = [body] if isinstance(body, bytes) else list(body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        all_headers = list(headers)
        if isinstance(body, bytes):
            all_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": all_headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


async def call(app: Any, accept_encoding: str | None = "gzip") -> list[Message]:
    """Run one GET through the request middleware with compression; return the messages sent."""
    headers = [] if accept_encoding is None else [(b"accept-encoding", accept_encoding.encode())]
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await RequestContextMiddleware(app, compression=Compression())(scope, receive, send)
    # The request context's own headers (request id, security headers) are not compression's.
    for message in sent:
        if message["type"] == "http.response.start":
            message["headers"] = [h for h in message["headers"] if h[0] not in CONTEXT_HEADERS]
    return sent


CONTEXT_HEADERS = {b"x-request-id", *(name for name, _ in SECURITY_HEADERS)}


def header(message: Message, name: bytes) -> list[bytes]:
    """Every value of header ``name`` in a response start message."""
    return [value for key, value in message["headers"] if key == name]


def body_of(messages: list[Message]) -> bytes:
    """The body bytes, concatenated."""
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


async def test_large_json_is_gzipped_with_its_own_length_and_vary() -> None:
    start, *rest = await call(response_app(LARGE))
    assert header(start, b"content-encoding") == [b"gzip"]
    assert header(start, b"vary") == [b"Accept-Encoding"]
    compressed = body_of(rest)
    assert header(start, b"content-length") == [str(len(compressed)).encode()]
    assert gzip.decompress(compressed) == LARGE
    assert len(compressed) < len(LARGE) / 4


@pytest.mark.parametrize("refusal", [None, "gzip;q=0", "br", "identity", "*;q=0"])
async def test_refused_gzip_sends_identity_but_still_varies(refusal: str | None) -> None:
    start, *rest = await call(response_app(LARGE), refusal)
    assert header(start, b"content-encoding") == []
    assert header(start, b"vary") == [b"Accept-Encoding"]
    assert header(start, b"content-length") == [str(len(LARGE)).encode()]
    assert body_of(rest) == LARGE


async def test_small_body_is_sent_as_it_is_with_vary() -> None:
    small = b'{"status": "ok"}'
    start, *rest = await call(response_app(small))
    assert header(start, b"content-encoding") == []
    assert header(start, b"vary") == [b"Accept-Encoding"]
    assert body_of(rest) == small


async def test_a_body_of_exactly_the_minimum_is_compressed() -> None:
    body = b"a" * compression.MINIMUM_SIZE
    start, *rest = await call(response_app(body))
    assert header(start, b"content-encoding") == [b"gzip"]
    assert gzip.decompress(body_of(rest)) == body


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-type", b"application/json"), (b"content-encoding", b"br")],
        [(b"content-type", b"image/png")],
        [(b"content-type", b"application/zip")],
        [(b"content-type", b"application/gzip")],
        [(b"content-type", b"video/mp4; codecs=avc1")],
        [(b"content-type", b"application/json"), (b"cache-control", b"no-store, no-transform")],
    ],
    ids=["content-encoding", "png", "zip", "gzip", "video", "no-transform"],
)
async def test_already_compressed_or_untransformable_bodies_are_untouched(
    headers: list[tuple[bytes, bytes]],
) -> None:
    start, *rest = await call(response_app(LARGE, headers=headers))
    assert start["headers"] == [*headers, (b"content-length", str(len(LARGE)).encode())]
    assert body_of(rest) == LARGE


@pytest.mark.parametrize("status", [204, 206, 304])
async def test_bodyless_and_partial_statuses_are_untouched(status: int) -> None:
    start, *_ = await call(response_app(LARGE, status=status))
    assert header(start, b"content-encoding") == []
    assert header(start, b"vary") == []


async def test_incompressible_body_goes_out_as_it_is() -> None:
    noise = os.urandom(4096)
    start, *rest = await call(
        response_app(noise, headers=[(b"content-type", b"text/plain; charset=utf-8")])
    )
    assert header(start, b"content-encoding") == []
    assert header(start, b"vary") == [b"Accept-Encoding"]
    assert body_of(rest) == noise


async def test_existing_vary_is_merged_not_duplicated() -> None:
    headers = [(b"content-type", b"application/json"), (b"vary", b"Origin")]
    start, *_ = await call(response_app(LARGE, headers=headers))
    assert header(start, b"vary") == [b"Origin, Accept-Encoding"]
    headers = [(b"content-type", b"application/json"), (b"vary", b"accept-encoding")]
    start, *_ = await call(response_app(LARGE, headers=headers))
    assert header(start, b"vary") == [b"accept-encoding"]


async def test_a_strong_etag_becomes_weak_when_gzipped() -> None:
    headers = [(b"content-type", b"application/json"), (b"etag", b'"v1"')]
    start, *_ = await call(response_app(LARGE, headers=headers))
    assert header(start, b"etag") == [b'W/"v1"']
    start, *_ = await call(response_app(LARGE, headers=headers), "identity")
    assert header(start, b"etag") == [b'"v1"']


async def test_streamed_chunks_are_each_decodable_as_they_arrive() -> None:
    chunks = [b"first " * 10, b"second " * 400, b"third"]
    messages = await call(response_app(chunks))
    start, *bodies = messages
    assert header(start, b"content-encoding") == [b"gzip"]
    # The total is unknown up front: no Content-Length, the server chunks it.
    assert header(start, b"content-length") == []
    assert [m["more_body"] for m in bodies] == [True, True, False]
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    # Each chunk decodes in full on its own (a sync flush), so a stream is never held back.
    for chunk, message in zip(chunks, bodies, strict=True):
        assert decoder.decompress(message["body"]) == chunk
    assert decoder.eof


async def test_large_bodies_are_compressed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = LARGE * 200
    assert len(body) >= compression.THREAD_MINIMUM_SIZE
    ran_in_thread: list[bool] = []
    original = compression.anyio.to_thread.run_sync

    async def spy(*args: Any, **kwargs: Any) -> Any:
        ran_in_thread.append(True)
        return await original(*args, **kwargs)

    monkeypatch.setattr(compression.anyio.to_thread, "run_sync", spy)
    _start, *rest = await call(response_app(body))
    assert ran_in_thread == [True]
    assert gzip.decompress(body_of(rest)) == body


# --- in the app -------------------------------------------------------------------------


async def seed(client: Any, count: int) -> None:
    """Create ``count`` items through the API."""
    for n in range(count):
        item = {"name": f"item {n}", "description": "for the compression test", "price": "9.99"}
        response = await client.post("/api/v1/items", json=item, headers=AUTH)
        assert response.status_code == 201


async def test_the_100_item_page_is_gzipped_and_head_matches_get(client: Any) -> None:
    await seed(client, 100)
    path = "/api/v1/items?limit=100"
    get = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert get.status_code == 200
    assert get.headers["content-encoding"] == "gzip"
    assert get.headers["vary"] == "Accept-Encoding"
    assert len(get.json()["items"]) == 100  # httpx decoded it
    assert int(get.headers["content-length"]) < len(get.content) / 4
    # The request middleware stays outermost: its headers are on the gzipped response.
    assert get.headers["x-request-id"]
    assert get.headers["x-content-type-options"] == "nosniff"

    head = await client.head(path, headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-encoding", "content-length", "content-type", "vary"):
        assert head.headers[name] == get.headers[name]

    plain = await client.get(path, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.json() == get.json()

    small = await client.get("/api/v1/items?limit=1", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    assert small.headers["vary"] == "Accept-Encoding"


async def test_cors_vary_and_compression_vary_are_one_header(
    tmp_path: Any, sqlite_template: Any
) -> None:
    import shutil

    database = tmp_path / "app.db"
    shutil.copy(sqlite_template, database)
    settings: Settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{database}", cors_origins=["https://app.example"]
    )
    async with open_client(settings) as client:
        await seed(client, 30)
        response = await client.get(
            "/api/v1/items?limit=30",
            headers={"Accept-Encoding": "gzip", "Origin": "https://app.example"},
        )
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers.get_list("vary") == ["Origin, Accept-Encoding"]
    assert response.headers["access-control-allow-origin"] == "https://app.example"
