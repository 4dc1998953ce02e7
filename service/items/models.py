"""The ``items`` table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utc_now

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
PRICE_DIGITS = 12
PRICE_DECIMALS = 2


class Item(Base):
    """A thing for sale."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    price: Mapped[Decimal] = mapped_column(
        Numeric(PRICE_DIGITS, PRICE_DECIMALS, asdecimal=True), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utc_now, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utc_now, onupdate=utc_now, server_default=func.now()
    )
