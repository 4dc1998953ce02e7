"""The cold-start baseline: a bare FastAPI app with one route, wrapped in Mangum.

Written the way a minimal FastAPI-on-Lambda function usually is (app and
adapter built at import), with the same route the benchmark requests from the
real handler, so both serve an identical event.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/api/v1/items")
async def list_items() -> dict[str, Any]:
    """An empty page, shaped like the real service's."""
    return {"items": [], "total": 0, "limit": 20, "offset": 0}


handler = Mangum(app)
