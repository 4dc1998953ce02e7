"""Error tracking: a forced 500 reaches a fake Sentry on loopback once, scrubbed.

The fake ingestion endpoint is a plain HTTP server on 127.0.0.1 used as the
DSN's host; the SDK posts envelopes to ``/api/<project>/envelope/`` from its
background thread, so the test flushes before it reads what arrived.
"""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from fastapi import Request

from service import error_tracking
from service.main import create_app
from tests.service.conftest import make_settings, open_client

SECRET = "s3cr3t-Zq9vX41"  # the value the test hunts for


class FakeSentry:
    """A loopback HTTP server that stores every request body (decompressed)."""

    def __init__(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self.requests: list[tuple[str, bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server hook name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        """A DSN whose host is this server (project id 1)."""
        return f"http://public@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[dict[str, Any]]:
        """The ``event`` items of every envelope received."""
        found = []
        for _path, body in self.requests:
            lines = body.split(b"\n")
            # Envelope: a header line, then (item header, payload) pairs.
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A running fake Sentry; error tracking is switched off again afterwards."""
    fake = FakeSentry()
    fake.thread.start()
    try:
        yield fake
    finally:
        error_tracking.stop()
        fake.server.shutdown()
        fake.server.server_close()


def crashing_app(settings: Any) -> Any:
    """The real app plus a route that fails with the request's secrets in its message."""
    app = create_app(settings)

    @app.post("/boom")
    async def boom(request: Request) -> None:
        body = (await request.body()).decode()
        # The worst case: a message quoting the URL (with its query) and the body.
        raise RuntimeError(f"could not handle {request.url} with {body}")

    return app


async def test_a_500_is_reported_once_with_its_request_id_and_no_secret(
    sentry: FakeSentry, tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "app.db")
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        sentry_dsn=sentry.dsn,
        release="service-0123456789ab-cafe0123",
    )
    async with open_client(settings, crashing_app(settings)) as client:
        assert not sentry_sdk.get_client().should_send_default_pii()
        fine = await client.get("/health")
        missing = await client.get("/api/v1/items/424242")
        response = await client.post(
            f"/boom?token={SECRET}&page=2",
            json={"user": "ann", "password": SECRET},
            headers={
                "Authorization": f"Bearer {SECRET}",
                "Cookie": f"session={SECRET}",
                "X-Request-ID": "req-sentry-1",
            },
        )
        error_tracking.flush_pending()
    assert (fine.status_code, missing.status_code, response.status_code) == (200, 404, 500)

    events = sentry.events()
    assert len(events) == 1, events
    assert all(path == "/api/1/envelope/" for path, _ in sentry.requests)
    event = events[0]
    assert event["tags"]["request_id"] == "req-sentry-1"
    assert event["environment"] == "test"
    assert event["release"] == "service-0123456789ab-cafe0123"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["request"]["method"] == "POST"
    assert event["request"]["url"] == "http://testserver/boom"
    everything = b"".join(body for _, body in sentry.requests)
    assert SECRET.encode() not in everything
    assert b"Bearer" not in everything or b"Bearer [Filtered]" in everything
    # The message is still useful once scrubbed.
    assert "could not handle http://testserver/boom?[Filtered]" in json.dumps(event)


async def test_error_tracking_is_off_without_a_dsn(
    sentry: FakeSentry, tmp_path: Path, sqlite_template: Path
) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    assert settings.sentry_dsn is None
    async with open_client(settings, crashing_app(settings)) as client:
        response = await client.post("/boom", json={})
        error_tracking.flush_pending()
    assert response.status_code == 500
    assert sentry.requests == []


def test_scrub_event_filters_headers_keys_query_strings_and_messages() -> None:
    event: Any = {
        "message": f"GET /items?token={SECRET} failed for Bearer {SECRET}",
        "request": {
            "url": f"https://api.example/items?access_token={SECRET}",
            "query_string": f"token={SECRET}",
            "cookies": {"session": SECRET},
            "data": {"password": SECRET},
            "headers": {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET, "Accept": "*/*"},
        },
        "extra": {"db_password": SECRET, "note": f'payload {{"password": "{SECRET}"}}'},
        "breadcrumbs": {"values": [{"data": {"url": f"/x?api_key={SECRET}"}}]},
        "tags": {"request_id": "req-1"},
        "contexts": {"headers": [["authorization", SECRET], ["accept", "*/*"]]},
    }
    scrubbed = error_tracking.scrub_event(event)
    assert SECRET not in json.dumps(scrubbed)
    assert scrubbed["request"]["headers"]["Accept"] == "*/*"
    assert scrubbed["request"]["url"] == "https://api.example/items?[Filtered]"
    assert "query_string" not in scrubbed["request"]
    assert scrubbed["tags"] == {"request_id": "req-1"}
    assert scrubbed["message"] == "GET /items?[Filtered] failed for Bearer [Filtered]"
