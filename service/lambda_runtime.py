"""The service on AWS Lambda: one runtime per execution environment.

``lambda_handler.handler`` delegates to :func:`handle`. The first invocation
builds a :class:`LambdaRuntime` (settings, with secrets read from SSM, and a
private event loop); the first HTTP event starts the app's lifespan on that
loop (database engine, cache client). Both are kept for the life of the
execution environment, so later invocations pay for neither: Mangum runs with
``lifespan="off"`` and every request runs on the same loop, which asyncpg and
redis connections are bound to.

Events: API Gateway REST API (payload 1.0) and HTTP API (1.0 or 2.0), an
Application Load Balancer, a Lambda function URL, and the direct invocation
``{"action": "migrate"}``. Anything else (authorizer, WebSocket, VPC Lattice,
SQS, SNS, S3, EventBridge, DynamoDB ... events) gets an error result, not a
traceback. See docs/lambda.md.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from mangum import Mangum
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import error_tracking
from service.config import Settings, load_settings
from service.errors import error_response
from service.logging import configure_logging, get_logger
from service.main import create_app
from service.middleware import RequestContextMiddleware

ALB: Final = "alb"
HTTP_API: Final = "http-api"
FUNCTION_URL: Final = "function-url"
REST_API: Final = "rest-api"

MIGRATE: Final = "migrate"
ACTIONS: Final = (MIGRATE,)
SUPPORTED_EVENTS: Final = (
    "HTTP requests from API Gateway (REST API, or HTTP API payload 1.0/2.0), an Application "
    'Load Balancer or a Lambda function URL, and the direct invocation {"action": "migrate"}'
)
# Marks (in our own copy of an event) a body Mangum could not decode; see serve_http.
BODY_ERROR_KEY: Final = "fastapi-on-aws.body-error"
# How much of an unexpected event an error message may quote: names, never payloads.
_MAX_KEYS_SHOWN = 8
_MAX_NAME_LENGTH = 64

log = get_logger("lambda")


class LifespanError(RuntimeError):
    """The app's lifespan start-up or shutdown failed."""


class MigrationError(RuntimeError):
    """The migrate action failed; raised so the invocation is reported as failed."""


# --- event classification (pure) --------------------------------------------------------


def http_source(event: object) -> str | None:
    """Which HTTP front end sent ``event`` (:data:`ALB` ...), or None for anything else.

    API Gateway's REQUEST authorizer payloads copy the request they guard
    (``httpMethod``/``path``, or ``requestContext.http`` in the HTTP API 2.0
    format) and add ``type`` plus ``methodArn`` (REST, HTTP API 1.0) or
    ``routeArn`` (HTTP API 2.0). Served as requests, they got an HTTP answer the
    authorizer protocol cannot use; they and WebSocket events are not HTTP requests.
    """
    if not isinstance(event, Mapping):
        return None
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None
    if _is_authorizer(event) or "connectionId" in context:
        return None
    if "elb" in context:
        return ALB
    if event.get("version") == "2.0" and isinstance(context.get("http"), Mapping):
        # Function URLs send the HTTP API 2.0 format; only their domain tells them apart.
        domain = str(context.get("domainName", ""))
        return FUNCTION_URL if ".lambda-url." in domain else HTTP_API
    if isinstance(event.get("httpMethod"), str) and isinstance(event.get("path"), str):
        return HTTP_API if event.get("version") == "1.0" else REST_API
    return None


def _is_authorizer(event: Mapping[Any, Any]) -> bool:
    """True for an API Gateway Lambda authorizer payload, TOKEN or REQUEST, of any API type."""
    return "methodArn" in event or "routeArn" in event


def stage_prefix(event: Mapping[str, Any], source: str) -> str:
    """The ``/<stage>`` the client's URL started with, or ``""`` when it had none.

    HTTP APIs put a named stage into the path (``$default`` adds nothing). REST
    APIs never do: ``path`` is stage-free and ``requestContext.path`` is what
    the client asked for, which starts with the stage on the execute-api domain
    but not on a custom domain.
    """
    if source == ALB:
        return ""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    if not isinstance(stage, str) or not stage or stage == "$default":
        return ""
    prefix = f"/{stage}"
    if source == REST_API:
        return prefix if context.get("path") == prefix + str(event.get("path", "")) else ""
    if event.get("version") == "2.0":
        raw = str(context.get("http", {}).get("path", ""))
    else:
        raw = str(event.get("path", ""))
    return prefix if raw == prefix or raw.startswith(prefix + "/") else ""


def asgi_paths(event: Mapping[str, Any], source: str, path: str) -> tuple[str, str]:
    """``(root_path, path)`` for the ASGI scope, given the path Mangum derived.

    ASGI wants ``path`` to be the full path and ``root_path`` the part the app
    is mounted under; Starlette then routes on the remainder, so ``/docs`` and
    ``/api/v1/items`` match behind any stage, and ``/docs`` links the OpenAPI
    document under the stage.
    """
    prefix = stage_prefix(event, source)
    if not prefix:
        return "", path
    if source == REST_API:
        return prefix, prefix + path
    return prefix, path


def describe_event(event: object) -> str:
    """What an unsupported event looks like, by type and key names only (no values)."""
    if event is None:
        return "null"
    if not isinstance(event, Mapping):
        kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number"}
        kind = next((name for cls, name in kinds.items() if isinstance(event, cls)), None)
        return kind or ("a number" if isinstance(event, float) else type(event).__name__)
    if not event:
        return "an empty object"
    keys = sorted(_short(key) for key in event)
    shown = ", ".join(keys[:_MAX_KEYS_SHOWN])
    if len(keys) > _MAX_KEYS_SHOWN:
        shown += f", ... ({len(keys) - _MAX_KEYS_SHOWN} more)"
    return f"an object with keys [{shown}]{_origin(event)}"


def _origin(event: Mapping[Any, Any]) -> str:
    """Name the AWS service behind a well-known event shape, when it says so itself."""
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        first = records[0]
        source = first.get("eventSource") or first.get("EventSource")
        if isinstance(source, str):
            return f" (records from {_short(source)})"
        if "cf" in first:
            return " (a CloudFront Lambda@Edge event)"
    source = event.get("source")
    if isinstance(source, str) and "detail-type" in event:
        return f" (an EventBridge event from {_short(source)})"
    if _is_authorizer(event):
        kind = event.get("type")
        shown = f"{_short(kind)} " if isinstance(kind, str) else ""
        return f" (an API Gateway {shown}authorizer event: this function is not an authorizer)"
    context = event.get("requestContext")
    if isinstance(context, Mapping):
        if "connectionId" in context:
            return " (an API Gateway WebSocket event: not an HTTP request)"
        if "serviceNetworkArn" in context:
            return " (a VPC Lattice event)"
        return " (a requestContext without an HTTP method: not an HTTP request)"
    if "raw_path" in event and "method" in event:
        return " (a VPC Lattice event)"
    return ""


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= _MAX_NAME_LENGTH else text[: _MAX_NAME_LENGTH - 3] + "..."


def body_problem(event: Mapping[str, Any]) -> str | None:
    """Why Mangum could not decode the event's body, or None when it can.

    Mangum base64-decodes a body flagged ``isBase64Encoded`` with
    :func:`base64.b64decode` and lets ``binascii.Error`` escape, which Lambda
    reports as a function error (a 502 at the API). The same decoding here
    finds such a body first, so the client gets a 400 instead.
    """
    body = event.get("body")
    if not event.get("isBase64Encoded") or not body:
        return None
    try:
        base64.b64decode(body)
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        return "The request body is flagged isBase64Encoded but is not valid base64"
    return None


def error_result(code: str, message: str, context: object) -> dict[str, Any]:
    """The result of a refused direct invocation, shaped like the HTTP error envelope."""
    request_id = getattr(context, "aws_request_id", None)
    return {"error": {"code": code, "message": message, "request_id": request_id}}


# --- the app's lifespan, run once -------------------------------------------------------


class AppLifespan:
    """Drives an ASGI app's lifespan protocol and keeps it open between invocations.

    The lifespan task waits on its queue while the execution environment is idle
    and is resumed by the next ``run_until_complete`` on the same loop.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Prepare to start ``app``; nothing runs until :meth:`startup`."""
        self._app = app
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app to finish starting."""
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }

        async def run_lifespan() -> None:
            await self._app(scope, self._to_app.get, self._from_app.put)

        self._task = asyncio.get_running_loop().create_task(run_lifespan())
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._reply("start-up")
        if reply["type"] != "lifespan.startup.complete":
            raise LifespanError(f"application start-up failed: {reply.get('message', '')}")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` (closing the engine and cache) and wait for the app."""
        if self._task is None or self._task.done():
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        reply = await self._reply("shutdown")
        await self._task
        if reply["type"] != "lifespan.shutdown.complete":
            raise LifespanError(f"application shutdown failed: {reply.get('message', '')}")

    async def _reply(self, phase: str) -> Message:
        assert self._task is not None
        reply = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({reply, self._task}, return_when=asyncio.FIRST_COMPLETED)
        failure = self._task.exception() if self._task.done() else None
        if reply.done() and failure is None:
            return reply.result()
        reply.cancel()
        if failure is not None:
            raise LifespanError(
                f"application {phase} failed: {type(failure).__name__}: {failure}"
            ) from failure
        raise LifespanError(f"the application returned during {phase} without replying")


class LambdaScope:
    """ASGI wrapper that fits Mangum's scope to the app: stage prefix and lifespan state."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        """Wrap ``app``; ``state`` is what its lifespan stored for requests to see."""
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Set ``root_path``/``path`` from the event and a copy of the lifespan state."""
        event = scope.get("aws.event")
        if scope["type"] == "http" and isinstance(event, Mapping) and BODY_ERROR_KEY in event:
            # Answered without the app, but inside the request middleware, so the
            # 400 carries the request id, security headers and an access-log line.
            await RequestContextMiddleware(_bad_request(str(event[BODY_ERROR_KEY])))(
                scope, receive, send
            )
            return
        source = http_source(event)
        if scope["type"] == "http" and source is not None and isinstance(event, Mapping):
            scope["root_path"], scope["path"] = asgi_paths(event, source, scope["path"])
        # A shallow copy per request, as the ASGI lifespan state extension requires.
        scope["state"] = dict(self.state)
        await self.app(scope, receive, send)


def _bad_request(message: str) -> ASGIApp:
    """An ASGI app that answers every request with a 400 envelope saying ``message``."""

    async def reject(scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(400, message)(scope, receive, send)

    return reject


# --- the per-environment runtime --------------------------------------------------------


class LambdaRuntime:
    """What one execution environment keeps: settings, a loop, and the started app."""

    def __init__(self, settings_loader: Callable[[], Settings] | None = None) -> None:
        """Load the settings (and SSM secrets) and create the loop; the app starts lazily."""
        self.settings = (settings_loader or load_settings)()
        configure_logging(self.settings.log_level)
        # Our middleware writes the access log; Mangum's own INFO line would duplicate it.
        logging.getLogger("mangum").setLevel(logging.WARNING)
        self.loop = asyncio.new_event_loop()
        self._lifespan: AppLifespan | None = None
        self._adapter: Mangum | None = None
        # Shut the app down cleanly if the interpreter exits normally (local runs, the
        # benchmark); on Lambda the process is simply frozen and eventually stopped.
        atexit.register(self.close)

    def _use_loop(self) -> asyncio.AbstractEventLoop:
        # Mangum 0.22 runs each request on asyncio.get_event_loop(): make that ours,
        # in case anything (asyncio.run, a test) replaced the current loop meanwhile.
        asyncio.set_event_loop(self.loop)
        return self.loop

    def _start_app(self) -> Mangum:
        app = create_app(self.settings)
        lifespan = AppLifespan(app)
        self._use_loop().run_until_complete(lifespan.startup())
        self._lifespan = lifespan
        log.info(
            "application started",
            environment=self.settings.environment,
            config_revision=self.settings.config_revision or None,
        )
        return Mangum(LambdaScope(app, lifespan.state), lifespan="off")

    def serve_http(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer one HTTP event, starting the app first if this environment has not."""
        if self._adapter is None:
            self._adapter = self._start_app()
        self._use_loop()
        problem = body_problem(event)
        if problem is not None:
            # A copy with no body for Mangum to decode, marked for LambdaScope to refuse.
            event = {**event, "body": "", "isBase64Encoded": False, BODY_ERROR_KEY: problem}
        try:
            return self._adapter(event, context)
        finally:
            # Lambda freezes the environment once the handler returns, the SDK's
            # sending thread with it: send this invocation's events first.
            error_tracking.flush_pending()

    def migrate(self) -> dict[str, Any]:
        """Upgrade the database to head under the migration lock; report the revision."""
        # Imported here: Alembic is only needed by this action, not by the request path.
        from service.migrations.runner import upgrade_async

        try:
            revision = self._use_loop().run_until_complete(upgrade_async(self.settings))
        except Exception as error:
            log.exception("migration failed")
            raise MigrationError(f"migration failed: {type(error).__name__}: {error}") from error
        return {"action": MIGRATE, "status": "ok", "revision": revision}

    def close(self) -> None:
        """Shut the app down and close the loop; a second call does nothing."""
        if self.loop.is_closed():
            return
        atexit.unregister(self.close)
        loop = self._use_loop()
        try:
            if self._lifespan is not None:
                loop.run_until_complete(self._lifespan.shutdown())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            self._lifespan = None
            self._adapter = None
            loop.close()
            asyncio.set_event_loop(None)


class _Holder:
    """The execution environment's runtime, created by the first invocation."""

    runtime: LambdaRuntime | None = None


def get_runtime() -> LambdaRuntime:
    """The runtime of this execution environment, built on first use.

    A failed build (bad settings, SSM unreachable) is not cached: the next
    invocation tries again.
    """
    if _Holder.runtime is None:
        _Holder.runtime = LambdaRuntime()
    return _Holder.runtime


def reset_runtime() -> None:
    """Close and forget the runtime, so the next invocation is a cold start again."""
    runtime, _Holder.runtime = _Holder.runtime, None
    if runtime is not None:
        runtime.close()


def run_action(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Handle a direct invocation ``{"action": ...}``; refuse unknown actions and keys."""
    action = event.get("action")
    extra = sorted(_short(key) for key in event if key != "action")
    if action not in ACTIONS:
        shown = repr(_short(action)) if isinstance(action, str) else describe_event(action)
        return error_result(
            "unknown_action",
            f"unknown action {shown}; supported actions: {', '.join(ACTIONS)}",
            context,
        )
    if extra:
        return error_result(
            "unexpected_keys",
            f"the {action} action takes no other keys; received [{', '.join(extra)}]. "
            f'Send exactly {{"action": "{action}"}}.',
            context,
        )
    return get_runtime().migrate()


def handle(event: Any, context: Any) -> dict[str, Any]:
    """Route one Lambda invocation: HTTP events to the app, actions, or a clear refusal."""
    if http_source(event) is not None:
        return get_runtime().serve_http(event, context)
    if isinstance(event, Mapping) and "action" in event:
        return run_action(event, context)
    return error_result(
        "unsupported_event",
        f"unsupported event: received {describe_event(event)}. "
        f"This function handles {SUPPORTED_EVENTS}.",
        context,
    )
