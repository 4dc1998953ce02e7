"""The hand-formatted access log line is the JSON structlog would have written, for any input."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.logging import configure_logging, write_access_log

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@settings(max_examples=300, deadline=None)
@given(
    method=st.text(max_size=12),
    path=st.text(max_size=60),
    status=st.integers(min_value=100, max_value=599),
    duration_ms=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    request_id=st.text(max_size=40),
)
def test_the_line_is_json_with_the_structlog_layout(
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    request_id: str,
) -> None:
    configure_logging("INFO")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        write_access_log(method, path, status, duration_ms, request_id)
    line = out.getvalue()
    assert line.endswith("\n")
    assert line.count("\n") == 1
    record = json.loads(line)
    timestamp = record.pop("ts")
    assert ISO_UTC.fullmatch(timestamp), timestamp
    expected = {
        "component": "access",
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "request_id": request_id,
        "event": "request",
        "level": "info",
    }
    assert record == expected
    # Byte for byte what json.dumps (structlog's renderer) writes, keys in the same order.
    assert line == json.dumps({**expected, "ts": timestamp}) + "\n"


def test_nothing_is_written_above_info(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    try:
        capsys.readouterr()
        write_access_log("GET", "/health", 200, 0.1, "r1")
        assert capsys.readouterr().out == ""
    finally:
        configure_logging("INFO")
