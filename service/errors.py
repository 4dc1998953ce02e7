"""One error envelope for every 4xx/5xx.

``{"error": {"code", "message", "request_id", "details"?}}``, never a traceback.
"""

from __future__ import annotations

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
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


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


def _http_exception_message(request: Request, exc: StarletteHTTPException) -> str:
    detail = exc.detail
    default_phrase = _phrase(exc.status_code)
    if isinstance(detail, str) and detail and detail != default_phrase:
        return detail
    # The router raises bare 404/405s; say exactly what did not match.
    if exc.status_code == 404:
        return f"No route matches {request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        suffix = f"; allowed: {allowed}" if allowed else ""
        return f"Method {request.method} is not allowed on {request.url.path}{suffix}"
    return default_phrase or "Error"


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Routing errors and explicit HTTPExceptions."""
    assert isinstance(exc, StarletteHTTPException)
    return error_response(
        exc.status_code, _http_exception_message(request, exc), headers=exc.headers
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Inputs are left out on purpose: they can be large or hold secrets.
    return [
        {
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
