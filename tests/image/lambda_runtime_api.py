"""A fake Lambda Runtime API (version 2018-06-01) on 127.0.0.1, for driving a real runtime.

It plays the part of Lambda's side of the runtime contract ("Using the Lambda
runtime API for custom runtimes" in the Lambda developer guide, and its OpenAPI
document) so that an unmodified runtime interface client, ``awslambdaric``
included, can run a handler in a container or a subprocess:

- ``GET /2018-06-01/runtime/invocation/next`` blocks until :meth:`FakeRuntimeApi.invoke`
  queues an event, then answers the event JSON with the documented headers
  (``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms``, ``-Invoked-Function-Arn``,
  ``-Trace-Id``, and ``-Client-Context``/``-Cognito-Identity`` when the invocation
  carries them) plus ``Lambda-Runtime-Invocation-Id``, which awslambdaric 4.0.2+ echoes;
- ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``.../{id}/error``
  complete that invocation (``202 Accepted``);
- ``POST /2018-06-01/runtime/init/error`` records an initialisation failure, which
  (as on Lambda) becomes the result of the pending and every later invocation.

It speaks HTTP/1.1 with keep-alive and exact ``Content-Length`` on every answer:
awslambdaric's native client (aws-lambda-cpp on libcurl) keeps its connection
open between calls and misbehaves when the server closes it or omits a header.
Anything the runtime does that the contract does not allow (an unknown request
id, a second result for one invocation, an unknown path) is answered with a 4xx
*and* recorded in :attr:`FakeRuntimeApi.protocol_errors`, so a test can fail on it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

API_PREFIX: Final = "/2018-06-01/runtime"
NEXT_PATH: Final = f"{API_PREFIX}/invocation/next"
INIT_ERROR_PATH: Final = f"{API_PREFIX}/init/error"
INVOCATION_PREFIX: Final = f"{API_PREFIX}/invocation/"
ERROR_TYPE_HEADER: Final = "Lambda-Runtime-Function-Error-Type"

DEFAULT_ACCOUNT_ID: Final = "123456789012"
DEFAULT_REGION: Final = "eu-west-1"


class RuntimeApiError(RuntimeError):
    """The runtime did not complete an invocation as the runtime API requires."""


class InvocationTimeoutError(RuntimeApiError, TimeoutError):
    """No result arrived for an invocation within the caller's timeout."""


@dataclass(frozen=True)
class InvocationResult:
    """What the runtime reported for one invocation.

    ``ok`` is True for ``/response``; for ``/error`` (and for an init error that
    failed this invocation) it is False and ``error`` holds the posted error
    document (``errorMessage``/``errorType``/``stackTrace`` from awslambdaric).
    """

    request_id: str
    ok: bool
    payload: Any = None
    error: Any = None
    error_type: str | None = None
    from_init_error: bool = False
    content_type: str | None = None
    raw_body: bytes = b""
    duration_s: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the runtime made, kept for assertions and failure messages."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class _Invocation:
    """An invocation from queueing to its result."""

    request_id: str
    invocation_id: str
    body: bytes
    deadline_ms: int
    trace_id: str
    client_context: str | None
    cognito_identity: str | None
    queued_at: float
    delivered: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    result: InvocationResult | None = None


# Put on the event queue to release a blocked /next when the fake stops.
_STOP: Final = object()


def _decode_json(body: bytes) -> Any:
    """The body as JSON, or the text itself when it is not JSON (kept for messages)."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", errors="replace")


class FakeRuntimeApi:
    """The Lambda side of the runtime API, for one execution environment at a time.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The
    runtime is pointed at :attr:`address` through ``AWS_LAMBDA_RUNTIME_API``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        function_name: str = "fake-function",
        function_timeout_s: float = 30.0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        """Configure the fake; nothing listens until :meth:`start`.

        ``function_timeout_s`` sets each invocation's ``Lambda-Runtime-Deadline-Ms``
        (queue time plus the timeout), as the function's configured timeout does.
        """
        self.host = host
        self.requested_port = port
        self.function_name = function_name
        self.function_timeout_s = function_timeout_s
        self.function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self._lock = threading.Lock()
        self._events: queue.Queue[object] = queue.Queue()
        self._invocations: dict[str, _Invocation] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.protocol_errors: list[str] = []
        self.init_error: InvocationResult | None = None
        self.next_polls = 0

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeRuntimeApi:
        """Listen on ``host`` (a free port unless one was given) in a background thread."""
        if self._server is not None:
            raise RuntimeError("the fake runtime API is already started")
        handler = _handler_class(self)
        server = ThreadingHTTPServer((self.host, self.requested_port), handler)
        # A /next blocked on the queue must not keep the test process alive.
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            # A short poll interval: stop() waits for serve_forever to notice, per test.
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-lambda-runtime-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and release any blocked ``/next`` (it gets a 500: exit now)."""
        self._stopping.set()
        self._events.put(_STOP)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeRuntimeApi:
        """Start on entry."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on exit."""
        self.stop()

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        if self._server is None:
            raise RuntimeError("the fake runtime API is not started")
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``host:port``, the value for ``AWS_LAMBDA_RUNTIME_API``."""
        return f"{self.host}:{self.port}"

    # --- invoking -----------------------------------------------------------------------

    def invoke(
        self,
        event: Any,
        timeout: float,
        *,
        client_context: dict[str, Any] | None = None,
        cognito_identity: dict[str, Any] | None = None,
    ) -> InvocationResult:
        """Queue ``event`` for the runtime's next ``/next`` and wait for its result.

        Raises :class:`InvocationTimeoutError` when neither a result nor an init error
        arrives within ``timeout`` seconds; the message says whether the runtime
        ever picked the event up, which tells a slow handler from a dead runtime.
        """
        if self._server is None:
            raise RuntimeError("start the fake runtime API before invoking")
        now = time.time()
        invocation = _Invocation(
            request_id=str(uuid.uuid4()),
            invocation_id=str(uuid.uuid4()),
            body=json.dumps(event).encode(),
            deadline_ms=int((now + self.function_timeout_s) * 1000),
            trace_id=_trace_id(now),
            client_context=json.dumps(client_context) if client_context is not None else None,
            cognito_identity=(
                json.dumps(cognito_identity) if cognito_identity is not None else None
            ),
            queued_at=time.monotonic(),
        )
        with self._lock:
            self._invocations[invocation.request_id] = invocation
            init_error = self.init_error
        if init_error is not None:
            # As on Lambda: after a failed init every invocation reports that error.
            return _init_failure(invocation.request_id, init_error)
        self._events.put(invocation)
        if not invocation.done.wait(timeout):
            with self._lock:
                picked = invocation.delivered
            where = (
                "the runtime took the event from /next but posted no result"
                if picked
                else f"the runtime never took the event from /next ({self.next_polls} polls)"
            )
            raise InvocationTimeoutError(
                f"invocation {invocation.request_id} got no result within {timeout:.0f} s: {where}"
            )
        assert invocation.result is not None
        return invocation.result

    # --- what the request handler calls -------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _protocol_error(self, message: str) -> None:
        with self._lock:
            self.protocol_errors.append(message)

    def _next_invocation(self) -> _Invocation | None:
        """Block until an event is queued; None when the fake is stopping."""
        with self._lock:
            self.next_polls += 1
        while True:
            item = self._events.get()
            if item is _STOP or self._stopping.is_set():
                # Leave the sentinel for any other blocked /next.
                self._events.put(_STOP)
                return None
            assert isinstance(item, _Invocation)
            with self._lock:
                if item.done.is_set():  # completed meanwhile (an init error): skip it
                    continue
                item.delivered = True
            return item

    def _complete(
        self, request_id: str, *, ok: bool, body: bytes, headers: dict[str, str]
    ) -> str | None:
        """Record ``/response`` or ``/error`` for ``request_id``; a message when refused."""
        with self._lock:
            invocation = self._invocations.get(request_id)
            if invocation is None:
                return f"unknown request id {request_id!r}"
            if not invocation.delivered:
                return f"request id {request_id!r} was never handed out by /next"
            if invocation.done.is_set():
                return f"invocation {request_id!r} already has a result"
            content_type = headers.get("content-type")
            invocation.result = InvocationResult(
                request_id=request_id,
                ok=ok,
                payload=_decode_json(body) if ok else None,
                error=None if ok else _decode_json(body),
                error_type=None if ok else _error_type(headers, body),
                content_type=content_type,
                raw_body=body,
                duration_s=time.monotonic() - invocation.queued_at,
            )
            invocation.done.set()
            return None

    def _fail_init(self, body: bytes, headers: dict[str, str]) -> None:
        """Record an init error and fail every invocation still waiting for a result."""
        result = InvocationResult(
            request_id="",
            ok=False,
            error=_decode_json(body),
            error_type=_error_type(headers, body),
            from_init_error=True,
            raw_body=body,
        )
        with self._lock:
            self.init_error = result
            waiting = [i for i in self._invocations.values() if not i.done.is_set()]
            for invocation in waiting:
                invocation.result = _init_failure(invocation.request_id, result)
                invocation.done.set()


def _error_type(headers: dict[str, str], body: bytes) -> str | None:
    """The error type: the documented header, else the body's ``errorType``.

    awslambdaric's native client sends ``Lambda-Runtime-Function-Error-Type``
    only on ``/init/error``; on ``/invocation/{id}/error`` the type is in the body.
    """
    header = headers.get(ERROR_TYPE_HEADER.lower())
    if header:
        return header
    document = _decode_json(body)
    error_type = document.get("errorType") if isinstance(document, dict) else None
    return error_type if isinstance(error_type, str) else None


def _init_failure(request_id: str, init_error: InvocationResult) -> InvocationResult:
    return InvocationResult(
        request_id=request_id,
        ok=False,
        error=init_error.error,
        error_type=init_error.error_type,
        from_init_error=True,
        raw_body=init_error.raw_body,
    )


def _trace_id(now: float) -> str:
    """An X-Ray trace header in the documented ``Root=1-<8 hex time>-<24 hex>`` form."""
    root = f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def _handler_class(api: FakeRuntimeApi) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``api`` (http.server instantiates it per connection)."""

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1: persistent connections, which the native client relies on.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle's algorithm on, the
        # client's delayed ACK holds the second one ~40 ms on every call.
        disable_nagle_algorithm = True
        server_version = "FakeLambdaRuntimeAPI/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: requests are recorded in ``api.requests`` instead."""

        def _read_body(self) -> bytes:
            # Exactly Content-Length bytes, or the chunks of a chunked body: reading
            # past the body would eat the next request on this kept-alive connection.
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        # Trailers end with an empty line.
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _answer(
            self,
            status: HTTPStatus,
            body: Any,
            headers: dict[str, str] | None = None,
            *,
            raw: bytes | None = None,
        ) -> None:
            data = raw if raw is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            try:
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                # The runtime went away (its container was killed while it waited
                # on /next): nobody to answer, and not the fake's error to report.
                self.close_connection = True

        def _refuse(self, status: HTTPStatus, error_type: str, message: str) -> None:
            api._protocol_error(f"{self.command} {self.path}: {message}")
            self._answer(status, {"errorMessage": message, "errorType": error_type})

        def _recorded(self) -> tuple[bytes, dict[str, str]]:
            body = self._read_body()
            headers = {name.lower(): value for name, value in self.headers.items()}
            api._record(RecordedRequest(self.command, self.path, headers, body, time.time()))
            return body, headers

        def do_GET(self) -> None:
            """``/next``: hand out the next queued event (blocking until there is one)."""
            self._recorded()
            if self.path != NEXT_PATH:
                self._refuse(HTTPStatus.NOT_FOUND, "NotFound", "no such runtime API path")
                return
            invocation = api._next_invocation()
            if invocation is None:
                # The documented 500: a non-recoverable state, the runtime should exit.
                self._answer(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {"errorMessage": "the fake runtime API is stopping", "errorType": "Stop"},
                )
                return
            headers = {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
                "Lambda-Runtime-Invocation-Id": invocation.invocation_id,
            }
            if invocation.client_context is not None:
                headers["Lambda-Runtime-Client-Context"] = invocation.client_context
            if invocation.cognito_identity is not None:
                headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
            self._answer(HTTPStatus.OK, None, headers, raw=invocation.body)

        def do_POST(self) -> None:
            """``/response``, ``/error`` and ``/init/error``."""
            body, headers = self._recorded()
            if self.path == INIT_ERROR_PATH:
                api._fail_init(body, headers)
                self._answer(HTTPStatus.ACCEPTED, {"status": "OK"})
                return
            rest = self.path.removeprefix(INVOCATION_PREFIX)
            request_id, _, outcome = rest.partition("/")
            if rest == self.path or outcome not in ("response", "error") or not request_id:
                self._refuse(HTTPStatus.NOT_FOUND, "NotFound", "no such runtime API path")
                return
            refusal = api._complete(
                request_id, ok=outcome == "response", body=body, headers=headers
            )
            if refusal is not None:
                self._refuse(HTTPStatus.BAD_REQUEST, "InvalidRequestID", refusal)
                return
            self._answer(HTTPStatus.ACCEPTED, {"status": "OK"})

    return Handler
