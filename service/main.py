"""The application factory. Nothing is created at import time; the lifespan owns I/O."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from service import error_tracking
from service.auth import create_authenticator
from service.cache import RedisCache, create_cache
from service.compression import Compression
from service.config import Settings, load_settings
from service.db import create_engine, create_sessionmaker
from service.errors import error_response, install_error_handlers
from service.health import install_health_routes
from service.items.router import install_item_routes
from service.logging import batch_access_log, configure_logging
from service.middleware import RequestContextMiddleware
from service.ratelimit import RateLimiter, RateLimitMiddleware


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with refused preflights answered in the error envelope.

    Starlette answers them with a plain-text 400; every other error the service
    sends is the JSON envelope, and clients parse that.
    """

    def preflight_response(self, request_headers: Headers) -> Response:
        """The usual preflight answer; a refusal becomes a 400 ``cors_rejected`` envelope."""
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        reason = bytes(response.body).decode()  # e.g. "Disallowed CORS origin, method"
        # Keep the CORS headers (Vary, Allow-*); the body's own length and type change.
        headers = {
            key: value
            for key, value in response.headers.items()
            if key not in {"content-length", "content-type"}
        }
        return error_response(
            400, f"{reason}: preflight refused", code="cors_rejected", headers=headers
        )


def create_server_app(settings: Settings | None = None) -> FastAPI:
    """The app as a long-running server (uvicorn) runs it: see :func:`batch_access_log`."""
    batch_access_log()
    return create_app(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` defaults to :func:`load_settings` (env + SSM)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Once per process (per Lambda execution environment), never at import.
        tracking = error_tracking.start(settings)
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.cache = create_cache(settings)
        # Rate-limit counts join the cache's Redis batches (one pipeline a loop turn); without
        # Redis, per process.
        cache = app.state.cache
        rate_limiter.use_redis(cache if isinstance(cache, RedisCache) else None)
        # Everything alive now (modules, the app, its routes and models) lives as long as
        # the process. Frozen, the cyclic GC's full collections skip it: unfrozen, they
        # walked the whole heap and paused the loop for ~70 ms several times a second
        # under load, the cause of the cached read's p99.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if tracking:
                error_tracking.stop()
            await rate_limiter.close()
            await app.state.cache.close()
            await engine.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        title="fastapi-on-aws",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.authenticator = create_authenticator(settings)
    install_error_handlers(app)
    install_health_routes(app)
    install_item_routes(app)
    # Innermost: a 429 passes through CORS (so browsers can read it) and gets a request id.
    rate_limiter = RateLimiter(settings)
    app.state.rate_limiter = rate_limiter
    app.add_middleware(RateLimitMiddleware, limiter=rate_limiter)
    if settings.cors_origins:
        app.add_middleware(
            EnvelopeCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    # Added last, so it is the outermost layer and sees every response (CORS too). It
    # also compresses (outside CORS, whose Vary it merges): no layer of its own for that.
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        compression=Compression(),
    )
    return app
