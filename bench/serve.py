"""Serve an ASGI app under the service's production uvicorn settings.

``python -m bench.serve service`` runs ``service.main:create_server_app`` and
``python -m bench.serve bare`` runs :mod:`bench.bare_http_app` and
``python -m bench.serve same-work`` runs :mod:`bench.same_work_app`, all on
``HOST:PORT`` with the keyword arguments ``python -m service serve`` passes to
uvicorn (:data:`service.__main__.UVICORN_OPTIONS`), so the two sides of the
HTTP benchmark differ only in the application.
"""

from __future__ import annotations

import argparse
import os
import sys

APPS = {
    "service": ("service.main:create_server_app", True),
    "bare": ("bench.bare_http_app:app", False),
    "same-work": ("bench.same_work_app:app", False),
}


def main(argv: list[str] | None = None) -> int:
    """Run uvicorn in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("app", choices=sorted(APPS))
    args = parser.parse_args(argv)

    import uvicorn

    from service.__main__ import UVICORN_OPTIONS

    target, factory = APPS[args.app]
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    uvicorn.run(target, factory=factory, host=host, port=port, **UVICORN_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
