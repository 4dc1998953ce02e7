"""Pure ASGI middleware: request id, access log, security headers, body limit, HEAD, 500s,
and the choice between gzip and ``Vary`` (service.compression does the compressing).

One middleware does all of them so each request pays for a single extra ASGI
layer and a single pass over the request headers.
"""

from __future__ import annotations

import random
import re
import time

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.compression import Compression, accepts_gzip, vary_on_encoding
from service.error_tracking import capture_request_error
from service.errors import error_response
from service.logging import request_id_var, write_access_log

# Echo a caller's id only if it is short and harmless in headers and logs.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
HSTS_HEADER = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


DEFAULT_MAX_BODY_BYTES = 1_048_576
# Without Content-Length or chunking these carry no body in HTTP/1.1: nothing to count.
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestBodyTooLarge(HTTPException):
    """The request body is over the limit; rendered as a 413 envelope."""

    def __init__(self, limit: int) -> None:
        """Name the limit in the message, so the client knows what to send."""
        super().__init__(
            status_code=413, detail=f"Request body is larger than the limit of {limit} bytes"
        )


def _content_length(value: bytes) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


class RequestContextMiddleware:
    """Tags each HTTP request with an id, secures, limits and logs it."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        compression: Compression | None = None,
    ) -> None:
        """Wrap ``app``; request bodies over ``max_body_bytes`` get a 413 envelope.

        With ``compression``, the app's responses are gzipped for clients that accept
        it, and carry ``Vary: Accept-Encoding`` either way when they could be.
        """
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.compression = compression
        self._error_log = structlog.get_logger().bind(component="errors")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; non-HTTP scopes pass straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        request_id: str | None = None
        https = scope.get("scheme") == "https"
        content_length: int | None = None
        chunked = False
        accept_encoding: list[bytes] | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-forwarded-proto":
                # A proxy chain lists protocols left to right; the client's is first.
                https = https or value.split(b",", 1)[0].strip().lower() == b"https"
            elif name == b"content-length":
                content_length = _content_length(value)
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"accept-encoding":
                accept_encoding = [value] if accept_encoding is None else [*accept_encoding, value]
        if request_id is None or not _VALID_REQUEST_ID.fullmatch(request_id):
            # 128 random bits as hex, like uuid4().hex but from the process's seeded
            # generator (reseeded after a fork): an id to correlate, not a secret, and
            # os.urandom would be a system call on every request.
            request_id = f"{random.getrandbits(128):032x}"
        token = request_id_var.set(request_id)

        extra_headers = [(b"x-request-id", request_id.encode("ascii")), *SECURITY_HEADERS]
        if https:
            extra_headers.append(HSTS_HEADER)
        status = 500
        response_started = False
        compression = self.compression
        gzip = compression is not None and accept_encoding is not None
        gzip = gzip and accepts_gzip(accept_encoding or ())
        # Compression's cheap, common path: the client takes no gzip, only Vary to add.
        vary = compression is not None and not gzip

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = message.get("headers") or []
                if vary:
                    headers = vary_on_encoding(status, headers)
                message["headers"] = [*headers, *extra_headers]
            await send(message)

        method = scope["method"]
        reply: Send = send_with_headers
        if method == "HEAD":
            # FastAPI routes declare GET only and answered HEAD with a 405. HEAD is
            # GET without the body (RFC 9110 9.3.2): run GET on a copy of the scope
            # (the server keeps the original, and still knows not to send a body)
            # and drop the body here too, keeping the headers, Content-Length included.
            scope = {**scope, "method": "GET"}
            reply = _without_body(send_with_headers)

        limit = self.max_body_bytes
        if chunked or (content_length is None and method not in _BODYLESS_METHODS):
            # No trustworthy length up front (chunked, or an in-process caller):
            # count the bytes as the app reads them. With a Content-Length the
            # server never delivers more than announced, so checking it is enough.
            receive = _limited(receive, limit)
        try:
            if content_length is not None and content_length > limit:
                raise RequestBodyTooLarge(limit)
            # Inside HEAD's body removal, so HEAD gets the gzipped GET's headers and length.
            app_send = compression.gzip_send(reply) if gzip and compression else reply
            await self.app(scope, receive, app_send)
        except RequestBodyTooLarge as error:
            if response_started:
                raise
            response = error_response(413, str(error.detail))
            await response(scope, receive, reply)
        except Exception as error:
            # The traceback goes to the log (and error tracking, when on), never the client.
            self._error_log.exception("unhandled error", method=method, path=scope["path"])
            capture_request_error(error, scope, request_id)
            if response_started:
                raise
            response = error_response(500, "Internal server error; quote the request_id")
            await response(scope, receive, reply)
        finally:
            write_access_log(
                method,
                scope["path"],
                status,
                round((time.perf_counter() - started) * 1000, 2),
                request_id,
            )
            request_id_var.reset(token)


def _without_body(send: Send) -> Send:
    """``send`` that passes every message on with its body emptied (the HEAD response)."""

    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`RequestBodyTooLarge` once the body passes ``limit``."""
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise RequestBodyTooLarge(limit)
        return message

    return receive_within_limit
