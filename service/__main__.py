"""Command line: ``python -m service migrate|downgrade|serve``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.config import ConfigError, load_settings
from service.logging import configure_logging

# How `serve` runs uvicorn; the HTTP benchmark serves its baseline app with the same.
UVICORN_OPTIONS: dict[str, Any] = {
    "workers": 1,
    # Behind the ALB / API Gateway: trust X-Forwarded-* from the private network.
    "proxy_headers": True,
    "forwarded_allow_ips": "*",
    # The service writes its own access log (service.middleware); uvicorn's would repeat it.
    "access_log": False,
    "log_config": None,
    "server_header": False,
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command, load and validate settings, run it; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to the latest revision")
    down = commands.add_parser("downgrade", help="downgrade the database (default: to empty)")
    down.add_argument("revision", nargs="?", default="base")
    commands.add_parser("serve", help="migrate (unless MIGRATE_ON_START=false), then serve")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)

    # Imported after the settings are known good: alembic and uvicorn are heavy.
    from service.migrations import runner

    if args.command == "migrate":
        runner.upgrade(settings)
        return 0
    if args.command == "downgrade":
        runner.downgrade(settings, args.revision)
        return 0

    import uvicorn

    from service.main import create_app

    if settings.migrate_on_start:
        runner.upgrade(settings)
    # The app object, built from the settings already loaded: an import string with
    # factory=True made uvicorn call create_app() -> load_settings() again, a second
    # SSM GetParameters per process.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        **UVICORN_OPTIONS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
