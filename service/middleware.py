"""Pure ASGI middleware: request id, access log, security headers, last-resort 500.

One middleware does all four so each request pays for a single extra ASGI layer
and a single pass over the request headers.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response
from service.logging import request_id_var

# Echo a caller's id only if it is short and harmless in headers and logs.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
HSTS_HEADER = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class RequestContextMiddleware:
    """Tags each HTTP request with an id, secures and logs its response."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``; the access logger is bound once here, not per request."""
        self.app = app
        self._log = structlog.get_logger().bind(component="access")
        self._error_log = structlog.get_logger().bind(component="errors")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; non-HTTP scopes pass straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        request_id: str | None = None
        https = scope.get("scheme") == "https"
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-forwarded-proto":
                # A proxy chain lists protocols left to right; the client's is first.
                https = https or value.split(b",", 1)[0].strip().lower() == b"https"
        if request_id is None or not _VALID_REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        token = request_id_var.set(request_id)

        extra_headers = [(b"x-request-id", request_id.encode("ascii")), *SECURITY_HEADERS]
        if https:
            extra_headers.append(HSTS_HEADER)
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra_headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # The traceback goes to the log only; the client gets a generic envelope.
            self._error_log.exception("unhandled error", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            response = error_response(500, "Internal server error; quote the request_id")
            await response(scope, receive, send_with_headers)
        finally:
            self._log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                request_id=request_id,
            )
            request_id_var.reset(token)
