"""Every domain's tables on ``Base.metadata``: what migrations compare the database with."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from sqlalchemy import MetaData

import service
from service.db import Base


def load_models() -> MetaData:
    """Import ``service.<domain>.models`` of every domain package; return ``Base.metadata``.

    Found by convention rather than listed: a domain whose models were left off
    a list would be missing from the metadata, and autogenerate would then
    write a ``drop_table`` for its table.
    """
    for module in pkgutil.iter_modules(service.__path__):
        name = f"service.{module.name}.models"
        if module.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return Base.metadata
