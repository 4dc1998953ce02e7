"""Request and response bodies for items."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from service.items.models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, PRICE_DIGITS

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; reject it here instead of failing at INSERT.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["Widget"]),
    AfterValidator(_no_nul),
]
Description = Annotated[
    str,
    Field(max_length=DESCRIPTION_MAX_LENGTH, examples=["A small widget"]),
    AfterValidator(_no_nul),
]


CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    # Normalise to the column's scale, so "1.5" is returned as "1.50" everywhere.
    return value.quantize(CENT)


Price = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=PRICE_DIGITS,
        decimal_places=2,
        allow_inf_nan=False,
        description="Non-negative, at most 2 decimal places; returned as a string",
        examples=["9.99"],
    ),
    AfterValidator(_cents),
]


class ItemBase(BaseModel):
    """Fields a client may set."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: Name
    description: Description | None = None
    price: Price


class ItemCreate(ItemBase):
    """Body of ``POST /api/v1/items``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemUpdate(BaseModel):
    """Body of ``PATCH /api/v1/items/{id}``: only the fields present change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = None
    description: Description | None = None
    price: Price | None = None

    @field_validator("name", "price")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omitting a field keeps it; an explicit null would break a NOT NULL column.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value

    def changes(self) -> dict[str, object]:
        """The fields the client actually sent."""
        return self.model_dump(exclude_unset=True)


class ItemPublic(ItemBase):
    """An item as the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    updated_at: datetime


class ItemsPage(BaseModel):
    """One page of items plus the total across all pages."""

    items: list[ItemPublic]
    total: int
    limit: int
    offset: int
