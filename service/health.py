"""Liveness (``/health``) and readiness (``/health/ready``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.responses import Response

from service.errors import error_response, error_responses
from service.logging import get_logger

log = get_logger("health")

# Encoded once: liveness is hit constantly by the load balancer and must be cheap.
_LIVE_BODY = b'{"status":"ok"}'


async def health() -> Response:
    """200 ``{"status": "ok"}`` whenever the process can answer at all."""
    return Response(content=_LIVE_BODY, media_type="application/json")


async def _check(name: str, probe: Callable[[], Awaitable[Any]], limit_seconds: float) -> str:
    try:
        async with asyncio.timeout(limit_seconds):
            await probe()
    except Exception as error:
        log.warning("readiness check failed", check=name, error=f"{type(error).__name__}: {error}")
        return "timeout" if isinstance(error, TimeoutError) else "error"
    return "ok"


async def ready(request: Request) -> Response:
    """Probe the database and the cache concurrently, each within the timeout."""
    state = request.app.state
    timeout = state.settings.readiness_timeout_seconds

    async def database() -> None:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    results = await asyncio.gather(
        _check("database", database, timeout), _check("cache", state.cache.ping, timeout)
    )
    checks = dict(zip(("database", "cache"), results, strict=True))
    failing = [name for name, status in checks.items() if status != "ok"]
    if failing:
        return error_response(
            503,
            f"Not ready: {', '.join(failing)} check failed",
            code="not_ready",
            details={"checks": checks},
        )
    return JSONResponse({"status": "ok", "checks": checks})


def install_health_routes(app: FastAPI) -> None:
    """Register the probes on the app itself.

    Not through an included APIRouter: FastAPI nests included routers, and the
    extra matching level is measurable on the most frequently hit route.
    """
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        tags=["health"],
        summary="Liveness: the process serves HTTP (touches no dependency)",
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    app.add_api_route(
        "/health/ready",
        ready,
        methods=["GET"],
        tags=["health"],
        summary="Readiness: the database answers SELECT 1 and the cache answers PING",
        responses=error_responses(503, s503="A dependency failed; details.checks names it"),
    )
