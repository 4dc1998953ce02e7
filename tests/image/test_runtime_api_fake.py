"""The fake Lambda Runtime API keeps the contract a real runtime relies on.

Driven here by plain ``http.client`` playing the runtime (no container, no
awslambdaric needed), plus one run of the real awslambdaric when an interpreter
that has it is available (the project venv does not: it is the image's
``lambda`` dependency group). Set ``AWSLAMBDARIC_PYTHON`` to such an interpreter,
e.g. ``uv venv /tmp/ric && uv pip install -p /tmp/ric awslambdaric``, to run it.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.image.lambda_runtime_api import (
    INIT_ERROR_PATH,
    NEXT_PATH,
    FakeRuntimeApi,
    InvocationResult,
    InvocationTimeoutError,
)

DOCUMENTED_NEXT_HEADERS = (
    "Lambda-Runtime-Aws-Request-Id",
    "Lambda-Runtime-Deadline-Ms",
    "Lambda-Runtime-Invoked-Function-Arn",
    "Lambda-Runtime-Trace-Id",
)


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    """A started fake with a 10 s function timeout."""
    with FakeRuntimeApi(function_name="unit", function_timeout_s=10) as fake:
        yield fake


def _connect(api: FakeRuntimeApi) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(api.host, api.port, timeout=10)


def _invoke_in_background(
    api: FakeRuntimeApi, event: Any, **kwargs: Any
) -> tuple[threading.Thread, list[InvocationResult | BaseException]]:
    """Start ``api.invoke`` on a thread (it blocks until the 'runtime' answers)."""
    outcome: list[InvocationResult | BaseException] = []

    def call() -> None:
        try:
            outcome.append(api.invoke(event, timeout=10, **kwargs))
        except BaseException as error:  # handed to the test thread to re-raise
            outcome.append(error)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, outcome


def _result(thread: threading.Thread, outcome: list[InvocationResult | BaseException]) -> Any:
    thread.join(timeout=15)
    assert outcome, "invoke() did not return within 15 s after the runtime answered"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def test_next_hands_out_the_event_with_the_documented_headers_over_one_connection(
    api: FakeRuntimeApi,
) -> None:
    """One kept-alive HTTP/1.1 connection serves /next and /response, as libcurl uses it."""
    thread, outcome = _invoke_in_background(api, {"hello": "world"})
    connection = _connect(api)
    before = time.time()
    connection.request("GET", NEXT_PATH)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, f"/next answered {response.status}, not 200"
    assert response.version == 11, "the fake must answer in HTTP/1.1 (keep-alive)"
    missing = [name for name in DOCUMENTED_NEXT_HEADERS if not response.getheader(name)]
    assert not missing, f"/next lacks the documented header(s) {missing}"
    assert response.getheader("Content-Length") == str(len(body)), "inexact Content-Length"
    assert json.loads(body) == {"hello": "world"}, "/next did not return the queued event"
    deadline_ms = int(response.getheader("Lambda-Runtime-Deadline-Ms") or 0)
    assert before + 9 <= deadline_ms / 1000 <= time.time() + 10, (
        f"Lambda-Runtime-Deadline-Ms {deadline_ms} is not queue time + the 10 s timeout"
    )
    assert response.getheader("Lambda-Runtime-Trace-Id", "").startswith("Root=1-"), (
        "Lambda-Runtime-Trace-Id is not an X-Ray trace header"
    )
    assert response.getheader("Lambda-Runtime-Invoked-Function-Arn") == api.function_arn
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    # The same connection again: the fake must not have closed it.
    connection.request(
        "POST",
        f"/2018-06-01/runtime/invocation/{request_id}/response",
        body=json.dumps({"answer": 42}),
        headers={"Content-Type": "application/json"},
    )
    posted = connection.getresponse()
    posted.read()
    assert posted.status == 202, f"/response answered {posted.status}, not 202 Accepted"
    result = _result(thread, outcome)
    assert result.ok, f"a /response must give ok=True, got {result}"
    assert result.payload == {"answer": 42}, f"payload not passed through: {result.payload}"
    assert result.request_id == request_id
    assert api.next_polls == 1
    assert not api.protocol_errors, api.protocol_errors
    connection.close()


def test_client_context_and_cognito_identity_are_sent_only_when_given(
    api: FakeRuntimeApi,
) -> None:
    """The mobile-SDK headers carry JSON when the invocation has them, and are absent otherwise."""
    for context in ({"custom": {"k": "v"}}, None):
        thread, outcome = _invoke_in_background(
            api, {}, client_context=context, cognito_identity=context
        )
        connection = _connect(api)
        connection.request("GET", NEXT_PATH)
        response = connection.getresponse()
        response.read()
        for name in ("Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"):
            value = response.getheader(name)
            expected = json.dumps(context) if context is not None else None
            assert value == expected, f"{name} is {value!r}, expected {expected!r}"
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        connection.request(
            "POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=b"null"
        )
        connection.getresponse().read()
        assert _result(thread, outcome).ok
        connection.close()


def test_error_result_carries_the_error_document_and_type(api: FakeRuntimeApi) -> None:
    """``/error`` completes the invocation with ok=False and the posted error."""
    thread, outcome = _invoke_in_background(api, {})
    connection = _connect(api)
    connection.request("GET", NEXT_PATH)
    response = connection.getresponse()
    response.read()
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    error = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    connection.request(
        "POST", f"/2018-06-01/runtime/invocation/{request_id}/error", body=json.dumps(error)
    )
    assert connection.getresponse().status == 202
    result = _result(thread, outcome)
    assert not result.ok, "an /error must give ok=False"
    assert result.error == error
    # awslambdaric sends the type in the body only; the fake falls back to it.
    assert result.error_type == "ValueError"


def test_init_error_fails_the_pending_and_every_later_invocation(api: FakeRuntimeApi) -> None:
    """As on Lambda, an init error becomes the result of the invocations that follow."""
    thread, outcome = _invoke_in_background(api, {})
    time.sleep(0.1)  # let the invocation queue before the runtime reports its failure
    connection = _connect(api)
    error = {"errorMessage": "no module", "errorType": "Runtime.ImportModuleError"}
    connection.request(
        "POST",
        INIT_ERROR_PATH,
        body=json.dumps(error),
        headers={"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )
    assert connection.getresponse().status == 202
    pending = _result(thread, outcome)
    later = api.invoke({}, timeout=1)
    for result in (pending, later):
        assert not result.ok, f"an init error must fail the invocation: {result}"
        assert result.from_init_error, f"not marked as failed by init: {result}"
        assert result.error == error, f"init error document not passed on: {result.error}"
        assert result.error_type == "Runtime.ImportModuleError", result.error_type


def test_protocol_violations_are_refused_and_recorded(api: FakeRuntimeApi) -> None:
    """An unknown request id and an unknown path get 4xx and land in protocol_errors."""
    connection = _connect(api)
    connection.request("POST", "/2018-06-01/runtime/invocation/nope/response", body=b"{}")
    unknown_id = connection.getresponse()
    unknown_id.read()
    connection.request("GET", "/2018-06-01/runtime/elsewhere")
    unknown_path = connection.getresponse()
    unknown_path.read()
    assert (unknown_id.status, unknown_path.status) == (400, 404)
    assert len(api.protocol_errors) == 2, api.protocol_errors


def test_invoke_times_out_naming_whether_the_event_was_picked_up(api: FakeRuntimeApi) -> None:
    """With no runtime polling, invoke() says the event was never taken from /next."""
    with pytest.raises(InvocationTimeoutError, match="never took the event"):
        api.invoke({}, timeout=0.2)


def test_stop_releases_a_blocked_next_with_a_500() -> None:
    """A runtime blocked on /next gets the documented 500 (exit now) when the fake stops."""
    fake = FakeRuntimeApi().start()
    connection = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    statuses: list[int] = []

    def poll() -> None:
        connection.request("GET", NEXT_PATH)
        statuses.append(connection.getresponse().status)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    time.sleep(0.2)
    fake.stop()
    poller.join(timeout=10)
    assert statuses == [500], f"a blocked /next got {statuses}, not one 500"


def _ric_python() -> str | None:
    """An interpreter with awslambdaric: this one, or AWSLAMBDARIC_PYTHON."""
    configured = os.environ.get("AWSLAMBDARIC_PYTHON", "").strip()
    if configured:
        return shutil.which(configured) or configured
    probe = subprocess.run(
        [sys.executable, "-c", "import awslambdaric"], capture_output=True, check=False
    )
    return sys.executable if probe.returncode == 0 else None


def test_real_awslambdaric_runs_a_handler_against_the_fake(tmp_path: Path) -> None:
    """The real runtime interface client: a response, an error, one init, same process."""
    python = _ric_python()
    if python is None:
        message = (
            "no interpreter with awslambdaric: run `make test-image` (it sets AWSLAMBDARIC_PYTHON)"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    (tmp_path / "handler_module.py").write_text(
        textwrap.dedent(
            """
            import os
            INITS = os.getpid()
            def handler(event, context):
                if event.get("fail"):
                    raise ValueError("asked to fail")
                return {"event": event, "request_id": context.aws_request_id,
                        "remaining_ms": context.get_remaining_time_in_millis(),
                        "arn": context.invoked_function_arn, "pid": INITS,
                        "trace": os.environ.get("_X_AMZN_TRACE_ID")}
            """
        )
    )
    with FakeRuntimeApi(function_name="ric", function_timeout_s=10) as fake:
        env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": fake.address, "PYTHONPATH": str(tmp_path)}
        runtime = subprocess.Popen(
            [python, "-m", "awslambdaric", "handler_module.handler"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            first = fake.invoke({"n": 1}, timeout=30)
            failed = fake.invoke({"fail": True}, timeout=10)
            second = fake.invoke({"n": 2}, timeout=10)
            # The runtime polls again right after its last result; give it a moment.
            waited = time.monotonic() + 5
            while fake.next_polls < 4 and time.monotonic() < waited:
                time.sleep(0.05)
        finally:
            runtime.kill()
            output = runtime.communicate(timeout=10)[0]
    assert first.ok, f"awslambdaric did not answer the first event: {first}\n{output}"
    assert second.ok, f"awslambdaric did not answer after an error: {second}\n{output}"
    assert first.payload["event"] == {"n": 1}, first.payload
    assert second.payload["event"] == {"n": 2}, second.payload
    assert first.payload["request_id"] == first.request_id, "context.aws_request_id mismatch"
    assert 0 < first.payload["remaining_ms"] <= 10_000, "the deadline header was not honoured"
    assert first.payload["arn"] == fake.function_arn
    assert str(first.payload["trace"]).startswith("Root=1-"), "trace id not passed to _X_AMZN"
    assert first.payload["pid"] == second.payload["pid"], "the runtime restarted between calls"
    assert not failed.ok, f"a raising handler must give an /error result: {failed}"
    assert failed.error_type == "ValueError", f"error type not reported: {failed}"
    assert fake.next_polls == 4, f"expected 3 invocations + 1 waiting poll: {fake.next_polls}"
    assert not fake.protocol_errors, fake.protocol_errors


def test_chunked_result_body_is_read_exactly(api: FakeRuntimeApi) -> None:
    """A chunked ``/response`` is decoded, and the kept-alive connection stays usable."""
    thread, outcome = _invoke_in_background(api, {})
    connection = _connect(api)
    connection.request("GET", NEXT_PATH)
    response = connection.getresponse()
    response.read()
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    connection.request(
        "POST",
        f"/2018-06-01/runtime/invocation/{request_id}/response",
        body=iter([b'{"parts": ', b'"two"}']),
        encode_chunked=True,
        headers={"Transfer-Encoding": "chunked"},
    )
    accepted = connection.getresponse()
    accepted.read()
    assert accepted.status == 202, f"chunked /response answered {accepted.status}"
    assert _result(thread, outcome).payload == {"parts": "two"}, "chunked body mis-decoded"
    # The next request on the same connection parses: nothing was left unread.
    connection.request("GET", "/2018-06-01/runtime/unknown")
    assert connection.getresponse().status == 404
