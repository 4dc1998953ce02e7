"""The project's name and the physical names derived from it."""

from __future__ import annotations

import re
from typing import Final

PROJECT: Final = "fastapi-on-aws"
"""The Pulumi project name: config namespace, SSM prefix, tag value, type-token package."""


def physical_name(stack: str, suffix: str, *, max_length: int = 63) -> str:
    """A deterministic lowercase AWS name ``fastapi-on-aws-<stack>-<suffix>``.

    Only for resources that need a name known before they exist (the caller
    must then set ``delete_before_replace``, INVARIANT C2).
    """
    raw = f"{PROJECT}-{stack}-{suffix}".lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if len(name) > max_length:
        raise ValueError(f"physical name {name!r} is longer than {max_length} characters")
    return name
