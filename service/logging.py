"""Structured JSON logs on stdout: one object per line, each carrying the request id."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# Set by the request middleware; read by every log line emitted while a request runs.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Whether INFO lines (the access log) are written; set by configure_logging.
_access_log_enabled = True
# Access log lines of the current event-loop turn, when batched (batch_access_log).
_pending_access_lines: list[str] = []
_batch_access_log = False


def _add_request_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    request_id = request_id_var.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


class StdoutLogger:
    """Writes each rendered line to the *current* ``sys.stdout``.

    structlog's PrintLogger binds the stream when the logger is created; looking
    it up per write keeps logs visible to anything that swaps stdout (pytest).
    """

    def msg(self, message: str) -> None:
        """Write one line and flush, so container log drivers see it at once."""
        stream = sys.stdout
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _logger_factory(*_: Any) -> StdoutLogger:
    return StdoutLogger()


def _shared_processors() -> list[Processor]:
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _add_request_id,
    ]


# Third-party loggers held at WARNING whatever LOG_LEVEL says (see configure_logging).
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def configure_logging(level: str = "INFO") -> None:
    """Configure structlog and route the stdlib loggers (uvicorn, alembic) through it."""
    global _access_log_enabled
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    _access_log_enabled = numeric_level <= logging.INFO
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_logger_factory,
        # Not cached, so reconfiguring (tests, a new level) takes effect; the hot
        # path (the access log) binds a concrete logger once per app instead.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared_processors()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    # Our middleware writes the access log; uvicorn's own would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Alembic announces every plugin it loads at INFO; only its migration lines matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # At DEBUG the AWS SDK logs whole response bodies, decrypted SSM parameters
    # included, and urllib3 logs every request line: never below WARNING.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _json_string(value: str) -> str:
    """``json.dumps(value)``, skipping the encoder for the usual plain ASCII value."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value)


_second = -1
_second_text = ""


def _utc_timestamp() -> str:
    """The current UTC time as ISO 8601 with microseconds and ``Z``, like structlog's."""
    global _second, _second_text
    now = time.time()
    second = int(now)
    if second != _second:  # formatting the date part once a second is enough
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = second
    return f"{_second_text}.{int((now - second) * 1_000_000):06d}Z"


def write_access_log(
    method: str, path: str, status: int, duration_ms: float, request_id: str
) -> None:
    """Write the access log line of one request, as structlog would render it.

    The same keys, order, separators and timestamp format as a structlog INFO
    line bound to ``component="access"``, but formatted directly: the bound
    logger, its processor chain and a fresh JSON encoder per line were the
    largest part of the service's per-request overhead over a bare app.
    """
    if not _access_log_enabled:
        return
    line = (
        f'{{"component": "access", "method": {_json_string(method)}, '
        f'"path": {_json_string(path)}, "status": {status:d}, '
        f'"duration_ms": {float(duration_ms)!r}, "request_id": {_json_string(request_id)}, '
        f'"event": "request", "level": "info", "ts": "{_utc_timestamp()}"}}\n'
    )
    if _batch_access_log:
        if not _pending_access_lines:
            try:
                asyncio.get_running_loop().call_soon(flush_access_log)
            except RuntimeError:  # no loop running (a plain call): write it now
                _write(line)
                return
        _pending_access_lines.append(line)
        return
    _write(line)


def batch_access_log() -> None:
    """Write access log lines once per event-loop turn instead of once per request.

    For a long-running server (``python -m service serve``): a loop turn under
    load finishes several requests, and their lines go out in one ``write``
    instead of one system call each. The lines are written when the loop next
    turns (microseconds later) and at interpreter exit; only a process killed
    outright within that turn loses them. Not for Lambda, whose loop stops
    between invocations: there every line is written at once.
    """
    global _batch_access_log
    if not _batch_access_log:
        _batch_access_log = True
        atexit.register(flush_access_log)


def flush_access_log() -> None:
    """Write the access log lines batched so far (nothing when there are none)."""
    if _pending_access_lines:
        text = "".join(_pending_access_lines)
        _pending_access_lines.clear()
        _write(text)


def _write(text: str) -> None:
    stream = sys.stdout
    stream.write(text)
    stream.flush()


def get_logger(name: str) -> Any:
    """A lazily configured structlog logger tagged with the component name."""
    return structlog.get_logger(component=name)
