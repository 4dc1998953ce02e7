"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.cache import Cache
from service.config import Settings

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
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API_TOKEN>`")


async def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Allow the request only with ``Authorization: Bearer <API_TOKEN>``."""
    if credentials is None:
        raise HTTPException(
            status_code=401,
            detail="Missing bearer token: send Authorization: Bearer <API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = settings.api_token.get_secret_value() if settings.api_token else ""
    # Constant time, so response timing does not reveal how much of a guess matched.
    if not expected or not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status_code=401,
            detail="Invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
CacheDep = Annotated[Cache, Depends(get_cache)]
# scope="function": the session closes (and rolls back) before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
TokenDep = Depends(require_token)
