"""One ComponentResource per AWS concern, plus the helpers they share."""

from __future__ import annotations

from infra.documents.naming import PROJECT, physical_name

__all__ = ["PROJECT", "physical_name", "type_token"]


def type_token(module: str, type_name: str) -> str:
    """The component type token ``fastapi-on-aws:<module>:<Type>``."""
    return f"{PROJECT}:{module}:{type_name}"
