"""AWS Lambda entry point (the image's CMD is ``lambda_handler.handler``).

Thin on purpose: the runtime in :mod:`service.lambda_runtime` keeps the settings,
the event loop and the started app for the life of the execution environment.
Nothing is loaded or connected at import time; the first invocation does it.
"""

from __future__ import annotations

from typing import Any

from service.lambda_runtime import handle


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Serve an API Gateway / ALB / function URL request, or run ``{"action": "migrate"}``."""
    return handle(event, context)
