"""The real service app behind an ASGI shim that can break one behaviour at a time.

Run as ``python -m tests.smoke.broken_server`` with the service's environment
(HOST, PORT, DATABASE_URL, ENVIRONMENT=development). ``GET
/__shim__/break/<name>`` chooses the breakage for the requests that follow
(``none`` restores the real behaviour), so one server process serves every
case of tests/smoke/test_smoke.py. Each breakage changes exactly what one smoke
check looks at and nothing another check looks at:

- ``health``: plain ``GET /health`` (no X-Request-ID) answers 503.
- ``ready``: ``GET /health/ready`` answers 503.
- ``request-id``: the X-Request-ID response header is replaced.
- ``security-headers``: X-Frame-Options is dropped.
- ``error-envelope``: an unknown route answers FastAPI's bare ``{"detail": …}``.
- ``create``: ``POST /api/v1/items`` creates the item but answers 200, not 201.
- ``read``: ``GET /api/v1/items/<id>`` answers another item's name.
- ``update``: ``PATCH`` updates the item but answers 500.
- ``delete``: the first ``DELETE`` answers 500 without deleting (later ones work),
  so the smoke test's own cleanup has to remove the item.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.__main__ import UVICORN_OPTIONS
from service.config import load_settings
from service.main import create_app

BREAKAGES = (
    "none",
    "health",
    "ready",
    "request-id",
    "security-headers",
    "error-envelope",
    "create",
    "read",
    "update",
    "delete",
)
_ITEM = re.compile(r"^/api/v1/items/\d+$")


class BreakingShim:
    """Pass requests to ``app``, altering the one behaviour ``self.breakage`` names."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.breakage = "none"
        self.deletes_refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path.startswith("/__shim__/break/"):
            await self._choose(path.rsplit("/", 1)[1], send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        mode = self.breakage
        if mode == "delete" and method == "DELETE" and self.deletes_refused == 0:
            self.deletes_refused += 1
            await _reply(send, 500, b'{"error":{"code":"internal_error"}}')
            return
        status: int | None = None
        body: bytes | None = None
        plain_health = path == "/health" and "x-request-id" not in headers
        if (mode == "health" and plain_health) or (mode == "ready" and path == "/health/ready"):
            status = 503
        elif mode == "create" and method == "POST" and path == "/api/v1/items":
            status = 200
        elif mode == "update" and method == "PATCH":
            status = 500
        elif mode == "error-envelope" and path.startswith("/smoke-"):
            body = b'{"detail":"Not Found"}'
        elif mode == "read" and method == "GET" and _ITEM.match(path):
            body = b"rewrite-name"

        async def altered(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = list(message.get("headers", []))
                if mode == "request-id":
                    response_headers = [
                        (k, b"not-what-was-sent") if k.lower() == b"x-request-id" else (k, v)
                        for k, v in response_headers
                    ]
                if mode == "security-headers":
                    response_headers = [
                        (k, v) for k, v in response_headers if k.lower() != b"x-frame-options"
                    ]
                if body is not None:
                    response_headers = [
                        (k, v) for k, v in response_headers if k.lower() != b"content-length"
                    ]
                message = {**message, "headers": response_headers}
                if status is not None:
                    message["status"] = status
            await send(message)

        if body is None:
            await self.app(scope, receive, altered)
            return
        await self._rewrite_body(scope, receive, altered, body)

    async def _rewrite_body(
        self, scope: Scope, receive: Receive, send: Send, replacement: bytes
    ) -> None:
        """Buffer the app's response and send ``replacement`` (or a renamed item) instead."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, collect)
        assert start is not None
        original = b"".join(chunks)
        content = replacement
        if replacement == b"rewrite-name":
            content = original
            if start["status"] == 200:
                item: dict[str, Any] = json.loads(original)
                item["name"] = "someone-else"
                content = json.dumps(item).encode()
        await send(
            {
                **start,
                "headers": [*start["headers"], (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def _choose(self, name: str, send: Send) -> None:
        if name not in BREAKAGES:
            await _reply(send, 404, b"unknown breakage")
            return
        self.breakage = name
        self.deletes_refused = 0
        await _reply(send, 200, name.encode())


async def _reply(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    """Serve the shimmed app on HOST:PORT (the database must already be migrated)."""
    app = BreakingShim(create_app(load_settings()))
    options = {k: v for k, v in UVICORN_OPTIONS.items() if k != "workers"}
    uvicorn.run(app, host=os.environ["HOST"], port=int(os.environ["PORT"]), **options)


if __name__ == "__main__":
    main()
