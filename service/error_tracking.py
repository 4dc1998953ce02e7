"""Error tracking with Sentry's SDK: off unless ``SENTRY_DSN`` is set.

:func:`start` runs once, from the app's lifespan (on Lambda: once per
execution environment, which starts the lifespan once); nothing happens at
import. Only the request middleware reports, and only the errors it turns into
500s: expected failures (4xx, a database outage's 503) are not bugs. The SDK
runs with no integration at all, so it patches nothing, reads no logging and
adds no work to requests that succeed. ``sentry_sdk`` itself is imported only
when it is switched on: its ~0.2 s import would otherwise weigh on every Lambda
cold start.

Every event passes :func:`scrub_event` before it leaves the process: the
request's query string, cookies and body are dropped, sensitive headers and
keys are filtered, and bearer tokens, ``password=``-like pairs and query
strings are cut out of every string (exception messages included). Frame
local variables are never collected (``include_local_variables=False``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from service.logging import get_logger

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint
    from starlette.types import Scope

    from service.config import Settings

FILTERED: Final = "[Filtered]"
# How long a flush may hold up a Lambda invocation or a shutdown.
FLUSH_TIMEOUT_SECONDS: Final = 2.0
# Header or field names whose values never leave the process.
_SENSITIVE_NAME = re.compile(
    r"authorization|cookie|token|passw|pwd|secret|api[-_]?key|session|credential|csrf|dsn"
    r"|private[-_]?key|signature",
    re.IGNORECASE,
)
# Credentials inside free text: "Bearer abc", "password=abc", '"token": "abc"'.
_SCHEME_CREDENTIAL = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"""(["']?[\w-]*(?:password|passwd|pwd|secret|token|api[-_]?key|authorization|dsn)[\w-]*"""
    r"""["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s&,;)}\]]+)""",
    re.IGNORECASE,
)
# A query string after a URL or a path: everything from "?" to the next blank or quote.
_QUERY = re.compile(r"(?<=[\w/.-])\?[^\s\"'#<>]*")
# Request headers worth seeing next to an error; all others are left out.
_REPORTED_HEADERS: Final = frozenset(
    {"accept", "accept-encoding", "content-length", "content-type", "host", "user-agent"}
)
# Keys the scrubber keeps as they are (the ids that tie an event to the logs).
_KEPT_KEYS: Final = frozenset({"request_id"})

log = get_logger("errors")


def scrub_text(text: str) -> str:
    """``text`` with bearer tokens, secret-looking ``key=value`` pairs and query strings cut."""
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{FILTERED}", text)
    return _QUERY.sub(f"?{FILTERED}", text)


def _scrub(value: Any) -> Any:
    """Recursively filter sensitive keys and scrub every string."""
    if isinstance(value, dict):
        return {
            key: FILTERED
            if isinstance(key, str) and key not in _KEPT_KEYS and _SENSITIVE_NAME.search(key)
            else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        # Header lists are [name, value] pairs: filter by the name.
        if len(value) == 2 and isinstance(value[0], str) and _SENSITIVE_NAME.search(value[0]):
            return [value[0], FILTERED]
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def scrub_event(event: Event, hint: Hint | None = None) -> Event:
    """``before_send``: drop what may carry secrets, then filter the rest (never None)."""
    request = event.get("request")
    if isinstance(request, dict):
        for dropped in ("query_string", "cookies", "data", "env"):
            request.pop(dropped, None)
    scrubbed: Event = _scrub(dict(event))
    return scrubbed


def start(settings: Settings) -> bool:
    """Initialise the SDK when ``SENTRY_DSN`` is set; return whether it is on."""
    if settings.sentry_dsn is None:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment,
        # Unset (a local run): the SDK falls back to SENTRY_RELEASE or the git commit.
        release=settings.release or None,
        # send_default_pii stays at its default, off (sentry-sdk 2.76 deprecates
        # passing it at all): the SDK adds no user, IP, cookie or body of its own.
        include_local_variables=False,
        before_send=scrub_event,
        # Nothing patched, no logging integration: the middleware reports, once.
        default_integrations=False,
        auto_enabling_integrations=False,
        max_breadcrumbs=0,
        shutdown_timeout=FLUSH_TIMEOUT_SECONDS,
    )
    _State.active = True
    log.info("error tracking on", environment=settings.environment, release=settings.release)
    return True


def stop() -> None:
    """Send what is queued (bounded), then switch the SDK off for this process."""
    if not _State.active:
        return
    import sentry_sdk

    _State.active = False
    _State.pending = 0
    sentry_sdk.get_client().close(timeout=FLUSH_TIMEOUT_SECONDS)
    sentry_sdk.get_global_scope().set_client(None)


class _State:
    """Whether the SDK is on in this process, and the events captured since the last flush."""

    active = False
    pending = 0


def _request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in raw
        if name.decode("latin-1") in _REPORTED_HEADERS
    }


def capture_request_error(error: BaseException, scope: Scope, request_id: str) -> None:
    """Report an unhandled request error, tagged with its request id; no-op when off."""
    if not _State.active:
        return
    import sentry_sdk

    # The path without the query string; the headers that cannot carry a credential.
    request = {
        "method": scope.get("method"),
        "url": f"{scope.get('scheme', 'http')}://{_host(scope)}{scope.get('path', '')}",
        "headers": _request_headers(scope.get("headers", ())),
    }
    with sentry_sdk.new_scope() as event_scope:
        event_scope.set_tag("request_id", request_id)
        event_scope.add_event_processor(lambda event, _hint: {**event, "request": request})
        sentry_sdk.capture_exception(error)
    _State.pending += 1


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server else "unknown"


def flush_pending() -> None:
    """Send captured events before a Lambda environment is frozen; cheap when none are."""
    if _State.pending:
        import sentry_sdk

        _State.pending = 0
        sentry_sdk.flush(timeout=FLUSH_TIMEOUT_SECONDS)
