"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth import Authenticator
from service.cache import Cache
from service.config import Settings
from service.ratelimit import limit_writes

# The dependencies below do no I/O but are ``async def`` on purpose: FastAPI runs a
# plain ``def`` dependency in a worker thread, a thread hop per request.


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_cache(request: Request) -> Cache:
    """The cache opened by the lifespan."""
    cache: Cache = request.app.state.cache
    return cache


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request; anything not committed is rolled back on exit."""
    async with request.app.state.sessionmaker() as session:
        yield session


# auto_error=False: a missing header must produce our envelope, not FastAPI's 403.
_bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <API_TOKEN>` (AUTH_MODE=token), or an access token "
    "from AUTH_ISSUER carrying AUTH_WRITE_SCOPE (AUTH_MODE=jwt)",
)


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Allow a write only with the bearer token AUTH_MODE asks for (service.auth).

    The caller's subject (a JWT's ``sub`` or ``client_id``; ``"token"`` for the
    static token) goes on the request's scope state, where the rate limiter
    keys its counters.
    """
    authenticator: Authenticator = request.app.state.authenticator
    subject = await authenticator.authorise_write(credentials.credentials if credentials else None)
    request.scope.setdefault("state", {})["auth_subject"] = subject


async def require_writer(
    request: Request, _authenticated: Annotated[None, Depends(require_token)]
) -> None:
    """Authenticate, then count the write against the caller's rate limit (service.ratelimit)."""
    await limit_writes(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]
CacheDep = Annotated[Cache, Depends(get_cache)]
# scope="function": the session closes (and rolls back) before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
# Writes: authentication first, so the write limit can key on the subject it found.
TokenDep = Depends(require_writer)
