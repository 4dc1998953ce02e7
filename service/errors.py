"""One error envelope for every 4xx/5xx.

``{"error": {"code", "message", "request_id", "details"?}}``, never a traceback.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from service.logging import get_logger, request_id_var

log = get_logger("errors")

# Errors that mean "the database cannot be reached right now", as opposed to a bad
# query or a constraint violation: lost or refused connections, an exhausted pool.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    # Refused, reset or timed-out sockets from the driver (ConnectionError, TimeoutError),
    # but only when raised from database code: see os_error_handler.
    OSError,
)
# Modules whose OSErrors mean the database connection failed.
DATABASE_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "psycopg")
RETRY_AFTER_SECONDS = "1"

# Stable, machine-readable codes; anything unlisted derives from the HTTP phrase.
CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

# Every ``code`` an HTTP response of this service can carry, with its status. The
# README's list of codes is checked against this (tests/service/test_error_codes.py),
# and the tests trigger each one for real.
SENT_CODES: dict[str, int] = {
    "bad_request": 400,
    "cors_rejected": 400,
    "unauthorized": 401,
    "insufficient_scope": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "validation_error": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "not_ready": 503,
    "service_unavailable": 503,
    "auth_unavailable": 503,
}
JSON_MEDIA_TYPE = "application/json"


class ErrorBody(BaseModel):
    """The inside of the envelope."""

    code: str
    message: str
    request_id: str | None
    details: Any = None


class ErrorEnvelope(BaseModel):
    """What every 4xx/5xx carries; documented in the OpenAPI schema for each error status."""

    error: ErrorBody


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the envelope for ``statuses``.

    ``descriptions`` maps ``"s404"`` style keys to a route-specific description.
    """
    return {
        status: {
            "model": ErrorEnvelope,
            "description": descriptions.get(f"s{status}", _phrase(status) or "Error"),
        }
        for status in statuses
    }


def error_code(status_code: int) -> str:
    """The envelope ``code`` for an HTTP status."""
    if status_code in CODES:
        return CODES[status_code]
    phrase = _phrase(status_code)
    return phrase.lower().replace(" ", "_").replace("-", "_") if phrase else "error"


def error_body(
    code: str, message: str, request_id: str | None, details: Any = None
) -> dict[str, Any]:
    """The envelope as a dict."""
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status_code: int,
    message: str,
    *,
    code: str | None = None,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON response carrying the envelope and the current request id."""
    body = error_body(code or error_code(status_code), message, request_id_var.get(), details)
    return Response(
        content=json.dumps(body, separators=(",", ":"), default=str).encode(),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""


def _http_exception_message(
    request: Request, exc: StarletteHTTPException, headers: Mapping[str, str] | None
) -> str:
    detail = exc.detail
    default_phrase = _phrase(exc.status_code)
    if isinstance(detail, str) and detail and detail != default_phrase:
        return detail
    # The router raises bare 404/405s; say exactly what did not match.
    if exc.status_code == 404:
        return f"No route matches {request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = (headers or {}).get("Allow", "")
        suffix = f"; allowed: {allowed}" if allowed else ""
        return f"Method {request.method} is not allowed on {request.url.path}{suffix}"
    return default_phrase or "Error"


def allowed_methods(request: Request) -> str:
    """The ``Allow`` value for the request's path: the methods of every route matching it.

    Starlette's router stops at the first route whose path matches and reports
    only that route's methods, so ``PUT /api/v1/items`` claimed only GET was
    allowed although POST is too. Walking every route costs a regex match per
    route, which is why it runs only on the 405/OPTIONS path, never per request.
    HEAD is served wherever GET is (see service.middleware) and OPTIONS
    everywhere a route matches, so both are listed.
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods.update(route.methods)
    if not methods:
        return ""
    if "GET" in methods:
        methods.add("HEAD")
    methods.add("OPTIONS")
    return ", ".join(sorted(methods))


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Routing errors and explicit HTTPExceptions."""
    assert isinstance(exc, StarletteHTTPException)
    headers = exc.headers
    allow = allowed_methods(request) if exc.status_code == 405 else ""
    if allow:
        headers = {**(headers or {}), "Allow": allow}
        if request.method == "OPTIONS":
            # No route declares OPTIONS; without CORS (whose middleware answers
            # preflights before routing) it is a question about the path: answer it.
            return Response(status_code=204, headers={"Allow": allow})
    message = _http_exception_message(request, exc, headers)
    # service.auth's errors name their own code (insufficient_scope, auth_unavailable).
    code = getattr(exc, "code", None)
    return error_response(exc.status_code, message, code=code, headers=headers)


def _is_json(content_type: str | None) -> bool:
    """True for ``application/json`` and ``application/*+json``, parameters allowed."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def require_json_body(request: Request) -> None:
    """Dependency for routes with a JSON body: any other media type (or none) is a 415.

    FastAPI leaves such a body unparsed and then reports "Input should be a
    valid dictionary", which tells the client nothing about the real mistake.
    An empty body is let through, to be reported as the missing field it is.
    The body is read once: FastAPI's request keeps it for the handler.
    """
    content_type = request.headers.get("content-type")
    if _is_json(content_type) or not await request.body():
        return
    sent = content_type.split(";", 1)[0].strip() if content_type else ""
    received = f"received {sent!r}" if sent else "none sent"
    raise StarletteHTTPException(
        415,
        detail=f"Content-Type must be {JSON_MEDIA_TYPE} for this request body ({received})",
        headers={"Accept": JSON_MEDIA_TYPE},
    )


def _json_error(error: Mapping[str, Any], document: Any) -> dict[str, Any]:
    """A JSON syntax error, located by line and column instead of a character offset.

    FastAPI reports ``loc: ["body", 28]``, which reads like a field named "28".
    """
    position = error["loc"][1] if len(error["loc"]) > 1 else None
    reason = str((error.get("ctx") or {}).get("error") or "JSON decode error")
    entry: dict[str, Any] = {"loc": ["body"], "message": reason, "type": error["type"]}
    if isinstance(position, int) and isinstance(document, str):
        line = document.count("\n", 0, position) + 1
        column = position - document.rfind("\n", 0, position)
        entry["message"] = f"invalid JSON at line {line}, column {column}: {reason}"
        entry.update(line=line, column=column)
    else:
        entry["message"] = f"invalid JSON: {reason}"
    return entry


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Inputs are left out on purpose: they can be large or hold secrets.
    return [
        _json_error(error, exc.body)
        if error["type"] == "json_invalid"
        else {
            "loc": [str(part) for part in error["loc"]],
            "message": error["msg"].removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in exc.errors()
    ]


async def validation_exception_handler(request: Request, exc: Exception) -> Response:
    """422 with one entry per invalid field in ``details``."""
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    message = "invalid request"
    if errors:
        where = ".".join(errors[0]["loc"])
        message = f"{where}: {errors[0]['message']}" if where else str(errors[0]["message"])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(422, message, details=errors)


async def database_unavailable_handler(request: Request, exc: Exception) -> Response:
    """503 with the envelope when the database is unreachable, so clients retry."""
    log.warning(
        "database unavailable",
        method=request.method,
        path=request.url.path,
        error=f"{type(exc).__name__}: {str(exc)[:200]}",
    )
    return error_response(
        503,
        "The database is unavailable; retry later",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def _raised_by_database_code(exc: BaseException) -> bool:
    """True if any frame the exception passed through belongs to the database stack."""
    traceback = exc.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] in DATABASE_MODULES:
            return True
        traceback = traceback.tb_next
    return False


async def os_error_handler(request: Request, exc: Exception) -> Response:
    """503 for a socket error from the database driver; any other OSError is a real 500.

    TimeoutError and ConnectionError are OSErrors: a timeout in unrelated code
    must not be reported as "database unavailable".
    """
    if _raised_by_database_code(exc):
        return await database_unavailable_handler(request, exc)
    raise exc


async def dbapi_error_handler(request: Request, exc: Exception) -> Response:
    """503 for a connection the driver lost mid-request; anything else is a real 500."""
    assert isinstance(exc, sa_exc.DBAPIError)
    if exc.connection_invalidated or isinstance(exc.orig, DATABASE_UNAVAILABLE):
        return await database_unavailable_handler(request, exc)
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    """Register the envelope for HTTP errors and validation errors.

    Unhandled exceptions become 500s in the request middleware, which sits
    outside FastAPI's exception layer and so also sees errors raised there.
    """
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    for unavailable in DATABASE_UNAVAILABLE:
        if unavailable is not OSError:
            app.add_exception_handler(unavailable, database_unavailable_handler)
    app.add_exception_handler(OSError, os_error_handler)
    app.add_exception_handler(sa_exc.DBAPIError, dbapi_error_handler)
