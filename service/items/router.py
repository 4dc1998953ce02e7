"""``/api/v1/items``: list, get (read-through cached), create, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from starlette.responses import Response

from service.deps import SessionDep, TokenDep
from service.errors import error_responses, require_json_body
from service.items.repository import ItemRepository
from service.items.schemas import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ItemCreate,
    ItemPublic,
    ItemsPage,
    ItemUpdate,
)

# Every item route may answer these with the envelope; FastAPI's own 422 schema
# (``{"detail": [...]}``) would misdescribe what the service sends.
router = APIRouter(
    prefix="/api/v1/items",
    tags=["items"],
    responses=error_responses(
        422,
        429,
        503,
        s422="Invalid request",
        s429="Over the client's rate limit (see Retry-After and the RateLimit header)",
        s503="The database (or, for a write with AUTH_MODE=jwt, the token issuer's keys) "
        "is unavailable; retry later",
    ),
)

# PostgreSQL INTEGER bounds: a larger id could never exist, and would overflow the driver.
MAX_ID = 2**31 - 1
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="The item's id")]
_AUTH_RESPONSES = error_responses(
    401,
    403,
    413,
    s401="Missing or invalid bearer token",
    s403="The access token lacks the write scope (AUTH_MODE=jwt)",
    s413="Request body too large",
)
# Routes with a JSON body: any other Content-Type (or none) is a 415, checked
# after the token so an anonymous caller learns nothing but "401".
_JSON_BODY = Depends(require_json_body)
_JSON_RESPONSES = error_responses(415, s415="The body is not application/json")
_NOT_FOUND = error_responses(404, s404="No such item")


def cache_key(item_id: int) -> str:
    """The Redis key of an item's cached representation."""
    return f"items:{item_id}"


def version_key(item_id: int) -> str:
    """The key of the counter every write to the item bumps (see service.cache)."""
    return f"items:{item_id}:v"


# The version must outlive any cached value and any reader still holding an old
# version: were it to expire first, a slow reader could compare against "absent".
VERSION_TTL_FACTOR = 10


async def _invalidate(request: Request, item_id: int) -> None:
    """After a commit: bump the item's version and drop its cached copy."""
    state = request.app.state
    await state.cache.invalidate(
        cache_key(item_id),
        version_key(item_id),
        state.settings.cache_ttl_seconds * VERSION_TTL_FACTOR,
    )


def _not_found(item_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=f"Item {item_id} not found")


@router.get("", response_model=ItemsPage, summary="List items, oldest first")
async def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """A page of items and the total count.

    Like the cached read, it opens its session inline rather than through a
    dependency, and returns the JSON itself: ``response_model`` only documents
    the body, where FastAPI would otherwise dump the page it was given, validate
    it again and then serialise it (twice the pydantic work, per item).
    """
    async with request.app.state.sessionmaker() as session:
        rows, total = await ItemRepository(session).list(limit=limit, offset=offset)
    # One validation of the whole page; each row is read by attribute.
    page = ItemsPage.model_validate(
        {"items": rows, "total": total, "limit": limit, "offset": offset}, from_attributes=True
    )
    return Response(content=page.model_dump_json().encode(), media_type="application/json")


@router.get(
    "/{item_id}",
    response_model=ItemPublic,
    responses=_NOT_FOUND,
    summary="Get one item (cached)",
)
async def get_item(item_id: ItemId, request: Request) -> Response:
    """Serve from the cache when possible; otherwise load, cache and return.

    The hottest read path: it takes the app state directly instead of through
    dependencies, and opens a database session only on a cache miss, because
    solving the dependencies and building an unused session cost more than the
    Redis round trip of a hit.

    On a miss the item's version is read *before* the row, and the loaded item
    is cached only if no writer bumped the version meanwhile: a reader that
    loaded the row before a PATCH/DELETE committed must not put the old row
    back afterwards. A hit reads one key and nothing else.
    """
    state = request.app.state
    key = cache_key(item_id)
    cached = await state.cache.get(key)
    if cached is not None:
        return Response(content=cached, media_type="application/json")
    versioned = version_key(item_id)
    version = await state.cache.get(versioned)
    async with state.sessionmaker() as session:
        item = await ItemRepository(session).get(item_id)
    if item is None:
        raise _not_found(item_id)
    body = ItemPublic.model_validate(item).model_dump_json().encode()
    await state.cache.set_if_version(
        key, body, state.settings.cache_ttl_seconds, versioned, version
    )
    return Response(content=body, media_type="application/json")


@router.post(
    "",
    response_model=ItemPublic,
    status_code=201,
    dependencies=[TokenDep, _JSON_BODY],
    responses={**_AUTH_RESPONSES, **_JSON_RESPONSES},
    summary="Create an item",
)
async def create_item(data: ItemCreate, request: Request) -> Response:
    """Insert a new item.

    Like the list and the cached read, it opens its session inline and returns
    its JSON itself (``response_model`` only documents it): a session
    dependency and FastAPI validating the returned model again were a fifth of
    the request's CPU.
    """
    async with request.app.state.sessionmaker() as session:
        row = await ItemRepository(session).create(data)
    body = ItemPublic.model_validate(row, from_attributes=True).model_dump_json().encode()
    return Response(content=body, status_code=201, media_type="application/json")


@router.patch(
    "/{item_id}",
    response_model=ItemPublic,
    dependencies=[TokenDep, _JSON_BODY],
    responses={**_AUTH_RESPONSES, **_JSON_RESPONSES, **_NOT_FOUND},
    summary="Update the fields sent",
)
async def update_item(
    item_id: ItemId, data: ItemUpdate, session: SessionDep, request: Request
) -> ItemPublic:
    """Change an item, then drop its cached copy."""
    repository = ItemRepository(session)
    item = await repository.get_for_update(item_id)
    if item is None:
        raise _not_found(item_id)
    item = await repository.update(item, data)
    await _invalidate(request, item_id)
    return ItemPublic.model_validate(item)


@router.delete(
    "/{item_id}",
    status_code=204,
    dependencies=[TokenDep],
    responses={**_AUTH_RESPONSES, **_NOT_FOUND},
    summary="Delete an item",
)
async def delete_item(item_id: ItemId, session: SessionDep, request: Request) -> Response:
    """Remove an item and its cached copy."""
    repository = ItemRepository(session)
    item = await repository.get_for_update(item_id)
    if item is None:
        raise _not_found(item_id)
    await repository.delete(item)
    await _invalidate(request, item_id)
    return Response(status_code=204)


def install_item_routes(app: FastAPI) -> None:
    """Put the item routes on the app's own router.

    Not ``app.include_router``: FastAPI keeps an included router as a nested
    level that every request walks through (matching twice, an extra scope
    copy), which showed up in profiles of the cached read. The routes above
    already carry the prefix, tags and dependencies, so they are added as they
    are.
    """
    app.router.routes.extend(router.routes)
