"""The HTTP baseline: a bare FastAPI app with one trivial JSON route.

Written the way a minimal FastAPI service usually is: no middleware, no
dependencies, a dict returned from the handler. The benchmark serves it with
exactly the uvicorn settings the real service uses (see :mod:`bench.serve`).
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root() -> dict[str, str]:
    """A constant JSON object."""
    return {"status": "ok"}
