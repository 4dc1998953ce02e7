"""CRUD, pagination bounds, validation and auth on /api/v1/items, on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from service.items.models import Item
from service.items.repository import ItemRepository
from tests.service.conftest import AUTH

ITEMS = "/api/v1/items"


async def create(client: Any, **fields: Any) -> dict[str, Any]:
    """POST an item and return its body, asserting 201."""
    body = {"name": "Widget", "price": "9.99", **fields}
    response = await client.post(ITEMS, json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_crud_round_trip(client: Any) -> None:
    created = await create(client, name="  Gadget ", description="shiny", price=12.5)
    assert created["name"] == "Gadget"
    assert created["price"] == "12.50"
    assert created["description"] == "shiny"
    assert created["id"] >= 1
    assert created["created_at"].endswith("Z") or "+00:00" in created["created_at"]

    fetched = await client.get(f"{ITEMS}/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    patched = await client.patch(
        f"{ITEMS}/{created['id']}", json={"price": "3", "description": None}, headers=AUTH
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["price"] == "3.00"
    assert patched.json()["description"] is None
    assert patched.json()["name"] == "Gadget"
    assert patched.json()["updated_at"] >= created["updated_at"]

    deleted = await client.delete(f"{ITEMS}/{created['id']}", headers=AUTH)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(f"{ITEMS}/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert gone.json()["error"]["message"] == f"Item {created['id']} not found"


async def test_pagination_defaults_bounds_and_total(client: Any) -> None:
    for n in range(25):
        await create(client, name=f"item {n:02d}")
    first = (await client.get(ITEMS)).json()
    assert (first["total"], first["limit"], first["offset"]) == (25, 20, 0)
    assert [i["name"] for i in first["items"]] == [f"item {n:02d}" for n in range(20)]

    rest = (await client.get(ITEMS, params={"limit": 100, "offset": 20})).json()
    assert [i["name"] for i in rest["items"]] == [f"item {n:02d}" for n in range(20, 25)]
    assert rest["total"] == 25
    past_end = (await client.get(ITEMS, params={"offset": 1000})).json()
    assert past_end["items"] == []
    assert past_end["total"] == 25

    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "ten"}, "limit"),
    ]:
        response = await client.get(ITEMS, params=params)
        assert response.status_code == 422, params
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"] == ["query", field]
        assert error["message"].startswith(f"query.{field}: ")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"price": "1"}, ["body", "name"]),
        ({"name": "", "price": "1"}, ["body", "name"]),
        ({"name": "x" * 201, "price": "1"}, ["body", "name"]),
        ({"name": "a\x00b", "price": "1"}, ["body", "name"]),
        ({"name": "n", "price": "-1"}, ["body", "price"]),
        ({"name": "n", "price": "1.001"}, ["body", "price"]),
        ({"name": "n", "price": "NaN"}, ["body", "price"]),
        ({"name": "n", "price": "1" * 11}, ["body", "price"]),
        ({"name": "n", "price": "1", "colour": "red"}, ["body", "colour"]),
    ],
)
async def test_create_rejects_invalid_fields(
    client: Any, body: dict[str, Any], loc: list[str]
) -> None:
    response = await client.post(ITEMS, json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == loc
    assert "input" not in error["details"][0]
    assert (await client.get(ITEMS)).json()["total"] == 0


async def test_update_rejects_null_for_required_fields(client: Any) -> None:
    item = await create(client)
    response = await client.patch(f"{ITEMS}/{item['id']}", json={"price": None}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "body.price: may be omitted but not null"


async def test_malformed_json_body_gets_the_envelope(client: Any) -> None:
    response = await client.post(
        ITEMS, content=b'{"name": "x", ', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["type"] == "json_invalid"
    assert "Traceback" not in response.text


@pytest.mark.parametrize("item_id", ["0", "-3", "abc", str(2**31)])
async def test_item_id_out_of_range_is_a_validation_error(client: Any, item_id: str) -> None:
    response = await client.get(f"{ITEMS}/{item_id}")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["path", "item_id"]


async def test_update_and_delete_of_missing_item_are_404(client: Any) -> None:
    patched = await client.patch(f"{ITEMS}/4242", json={"name": "x"}, headers=AUTH)
    deleted = await client.delete(f"{ITEMS}/4242", headers=AUTH)
    assert patched.status_code == deleted.status_code == 404
    assert patched.json()["error"]["message"] == "Item 4242 not found"


@pytest.mark.parametrize(
    ("headers", "message", "challenge"),
    [
        ({}, "Missing bearer token", "Bearer"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Missing bearer token", "Bearer"),
        ({"Authorization": "Bearer wrong"}, "Invalid bearer token", 'Bearer error="invalid_token"'),
        ({"Authorization": "Bearer dev-token"}, "Invalid bearer token", None),
    ],
)
async def test_writes_require_the_bearer_token(
    client: Any, headers: dict[str, str], message: str, challenge: str | None
) -> None:
    item = await create(client)
    attempts = [
        await client.post(ITEMS, json={"name": "n", "price": "1"}, headers=headers),
        await client.patch(f"{ITEMS}/{item['id']}", json={"name": "n"}, headers=headers),
        await client.delete(f"{ITEMS}/{item['id']}", headers=headers),
    ]
    for response in attempts:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        if challenge:
            assert response.headers["www-authenticate"] == challenge
        error = response.json()["error"]
        assert error["code"] == "unauthorized"
        assert error["message"].startswith(message)
        assert error["request_id"] == response.headers["x-request-id"]
    # Nothing changed.
    assert (await client.get(f"{ITEMS}/{item['id']}")).json() == item
    assert (await client.get(ITEMS)).json()["total"] == 1


async def test_reads_need_no_token(client: Any) -> None:
    item = await create(client)
    assert (await client.get(ITEMS)).status_code == 200
    assert (await client.get(f"{ITEMS}/{item['id']}")).status_code == 200


async def test_failing_write_rolls_back(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def half_written_create(self: ItemRepository, data: Any) -> Item:
        self.session.add(Item(**data.model_dump()))
        await self.session.flush()  # the row reaches the database, uncommitted
        raise RuntimeError("crash between flush and commit")

    monkeypatch.setattr(ItemRepository, "create", half_written_create)
    response = await client.post(ITEMS, json={"name": "ghost", "price": "1"}, headers=AUTH)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"

    async with client.app.state.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(Item))
    assert count == 0
