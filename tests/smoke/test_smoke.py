"""scripts/smoke.py against real servers on 127.0.0.1, and against broken ones.

- ``make smoke`` passes against ``make run`` (a real uvicorn on a free port,
  SQLite, ENVIRONMENT=development, token ``dev-token``) and never prints the token.
- One test per check: the real app behind tests/smoke/broken_server.py's shim,
  breaking exactly that behaviour, makes exactly that check fail, and the item
  the run created is gone afterwards.
- The HTTPS redirect and HSTS through a transport that plays the ALB's two
  listeners in front of the real server; the Lambda shape through the real
  handler's HTTP API (payload 2.0) events, in process, without a network.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from scripts import smoke
from scripts.smoke import Response, Smoke, Transport, urllib_transport

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "dev-token"
CHECKS = (
    "health",
    "ready",
    "request-id",
    "security-headers",
    "error-envelope",
    "create",
    "read",
    "update",
    "delete",
)
ALB_URL = "https://app-alb-0123456.eu-west-1.elb.amazonaws.com"
API_URL = "https://abcdef1234.execute-api.eu-west-1.amazonaws.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _service_env(tmp: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "API_TOKEN", "DATABASE_", "REDIS_"))
    }
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        ENVIRONMENT="development",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'smoke.db'}",
        LOG_LEVEL="WARNING",
    )
    return env


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):  # noqa: S310 - 127.0.0.1
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``make run`` on a free port (the .venv is already synced: ``-o`` skips re-syncing)."""
    port = _free_port()
    env = _service_env(tmp_path_factory.mktemp("make-run"), port)
    process = subprocess.Popen(
        ["make", "-s", "-o", ".venv/.synced", "run", "HOST=127.0.0.1", f"PORT={port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app behind the breaking shim, on a migrated SQLite database."""
    port = _free_port()
    env = _service_env(tmp_path_factory.mktemp("broken"), port)
    subprocess.run([sys.executable, "-m", "service", "migrate"], cwd=REPO_ROOT, env=env, check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.smoke.broken_server"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _break(url: str, breakage: str) -> None:
    with urllib.request.urlopen(f"{url}/__shim__/break/{breakage}", timeout=5) as reply:  # noqa: S310
        assert reply.read().decode() == breakage


def _items_named(url: str, prefix: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/items?limit=100", timeout=5) as reply:  # noqa: S310
        page = json.loads(reply.read())
    assert page["total"] <= 100, "the list fits one page"
    return [item for item in page["items"] if str(item["name"]).startswith(prefix)]


def _run(url: str, transport: Transport | None = None, **options: Any) -> tuple[Smoke, str, int]:
    out = io.StringIO()
    runner = Smoke(url, TOKEN, transport or urllib_transport(5), out=out, **options)
    status = runner.run()
    return runner, out.getvalue(), status


def _verdicts(runner: Smoke) -> dict[str, str]:
    return {result.name: result.status for result in runner.results}


# --- against `make run` ---------------------------------------------------------------


def test_make_smoke_passes_against_make_run_and_never_prints_the_token(make_run: str) -> None:
    """`SMOKE_TOKEN=dev-token make smoke URL=…`: every check passes, exit 0, token unseen."""
    env = {**os.environ, "SMOKE_TOKEN": TOKEN}
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.synced", "smoke", f"URL={make_run}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for check in CHECKS:
        assert f"PASS {check}: ok (" in output, check
    assert "N/A  https-redirect: the URL is plain HTTP" in output
    assert "9 passed, 0 failed (1 not applicable)" in output.splitlines()[-1]
    assert TOKEN not in output
    assert not _items_named(make_run, "smoke-")


def test_every_check_prints_its_response_time(make_run: str) -> None:
    """Response times are printed (in ms) on every line that made a request."""
    runner, output, status = _run(make_run)
    assert status == 0, output
    timed = [r for r in runner.results if r.status == "PASS"]
    assert len(timed) == len(CHECKS)
    assert all(r.elapsed_ms is not None and r.elapsed_ms > 0 for r in timed)


# --- one broken behaviour, one failing check ------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_breaking_one_behaviour_fails_exactly_its_check_and_cleans_up(
    broken: str, check: str
) -> None:
    """The shim breaks exactly what ``check`` looks at: only that check fails, the
    exit status is 1, the last line counts it, and the run's item is gone."""
    _break(broken, check)
    try:
        runner, output, status = _run(broken)
    finally:
        _break(broken, "none")
    failed = {name for name, verdict in _verdicts(runner).items() if verdict == "FAIL"}
    assert failed == {check}, output
    assert status == 1
    assert output.splitlines()[-1].startswith(f"{len(CHECKS) - 1} passed, 1 failed")
    assert f"FAIL {check}: " in output
    assert not _items_named(broken, f"smoke-{runner.run_id}"), "the smoke item was left behind"
    if check == "delete":
        assert "cleanup: item " in output


def test_unbroken_shim_passes(broken: str) -> None:
    """The shim itself changes nothing when no breakage is chosen (so the cases above
    fail because of their breakage)."""
    _break(broken, "none")
    runner, output, status = _run(broken)
    assert status == 0, output
    assert set(_verdicts(runner).values()) == {"PASS", "N/A"}


def test_make_smoke_fails_with_the_named_check_against_a_broken_server(broken: str) -> None:
    """`make smoke` exits non-zero and names the check that failed."""
    _break(broken, "ready")
    try:
        done = subprocess.run(
            ["make", "--no-print-directory", "-o", ".venv/.synced", "smoke", f"URL={broken}"],
            cwd=REPO_ROOT,
            env={**os.environ, "SMOKE_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        _break(broken, "none")
    assert done.returncode != 0
    assert "FAIL ready: GET /health/ready returned 503, expected 200" in done.stdout
    assert "8 passed, 1 failed" in done.stdout


# --- the ALB's HTTPS redirect and HSTS ------------------------------------------------


def alb_transport(backend: str, *, redirect: bool = True, forward_proto: bool = True) -> Transport:
    """The ALB in front of ``backend``: HTTPS forwarded with X-Forwarded-Proto; port 80
    either redirects (301, like the HTTPS shape's listener) or, broken, forwards too."""
    inner = urllib_transport(5)

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "http" and redirect:
            target = urllib.parse.urlunsplit(("https", parts.hostname, parts.path, parts.query, ""))
            return Response(301, {"location": target}, b"", 0.5)
        forwarded = dict(headers)
        if forward_proto:
            forwarded["X-Forwarded-Proto"] = parts.scheme
        query = f"?{parts.query}" if parts.query else ""
        return inner(method, f"{backend}{parts.path}{query}", forwarded, body)

    return send


def test_https_alb_url_redirects_http_and_sends_hsts(make_run: str) -> None:
    """An HTTPS ALB URL: the redirect check runs and passes, HSTS is required and present."""
    runner, output, status = _run(ALB_URL, alb_transport(make_run))
    assert status == 0, output
    assert _verdicts(runner)["https-redirect"] == "PASS"


def test_https_redirect_check_fails_when_port_80_serves_plain_http(make_run: str) -> None:
    """A listener on 80 that forwards instead of redirecting fails exactly that check."""
    runner, output, status = _run(ALB_URL, alb_transport(make_run, redirect=False))
    assert status == 1
    failed = {name for name, verdict in _verdicts(runner).items() if verdict == "FAIL"}
    assert failed == {"https-redirect"}, output
    assert not _items_named(make_run, f"smoke-{runner.run_id}")


def test_hsts_is_required_over_https(make_run: str) -> None:
    """Without X-Forwarded-Proto the service sends no HSTS: over HTTPS that fails the
    security-headers check, and only it."""
    runner, output, status = _run(ALB_URL, alb_transport(make_run, forward_proto=False))
    failed = {name for name, verdict in _verdicts(runner).items() if verdict == "FAIL"}
    assert failed == {"security-headers"}, output
    assert "strict-transport-security" in output
    assert status == 1


def test_lambda_shape_says_the_redirect_does_not_apply(make_run: str) -> None:
    """API Gateway has no port 80: the check is reported not applicable, with the reason."""
    runner, output, _ = _run(API_URL, alb_transport(make_run), shape="lambda")
    (redirect,) = [r for r in runner.results if r.name == "https-redirect"]
    assert redirect.status == "N/A"
    assert "no port 80" in redirect.detail
    assert "N/A  https-redirect: the Lambda shape is served by API Gateway" in output


# --- the Lambda handler, through HTTP API events --------------------------------------


def test_smoke_passes_through_the_lambda_handlers_http_api_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``lambda_handler.handler``, fed payload 2.0 events in process: every check
    passes on the Lambda shape's URL (HSTS included), no network involved."""
    import lambda_handler
    from service.config import Settings
    from service.lambda_runtime import reset_runtime

    # ``lambda`` is a keyword: the package is importable by name only.
    events = importlib.import_module("tests.lambda.events")
    fake_context, http_api_event, result_headers = (
        events.FakeContext,
        events.http_api_event,
        events.result_headers,
    )

    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'lambda.db'}")
    reset_runtime()
    try:
        migrated = lambda_handler.handler({"action": "migrate"}, fake_context())
        assert migrated["status"] == "ok", migrated

        def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
            parts = urllib.parse.urlsplit(url)
            query = dict(urllib.parse.parse_qsl(parts.query))
            event = http_api_event(
                method,
                parts.path,
                headers=dict(headers),
                query=query or None,
                body=body.decode() if body is not None else None,
            )
            started = time.perf_counter()
            result = lambda_handler.handler(event, fake_context())
            elapsed = (time.perf_counter() - started) * 1000
            text = result.get("body") or ""
            raw = text.encode()
            if result.get("isBase64Encoded"):
                import base64

                raw = base64.b64decode(text)
            merged = {k.lower(): v[-1] for k, v in result_headers(result).items()}
            return Response(int(result["statusCode"]), merged, raw, elapsed)

        runner, output, status = _run(API_URL, send, shape="lambda")
    finally:
        reset_runtime()
    assert status == 0, output
    assert _verdicts(runner)["https-redirect"] == "N/A"
    assert sum(1 for v in _verdicts(runner).values() if v == "PASS") == len(CHECKS)


# --- the token -------------------------------------------------------------------------


def test_the_token_is_never_printed_even_when_a_server_echoes_it() -> None:
    """A server that echoes the Authorization header in an error: the line is scrubbed."""
    secret = "s3cr3t-token-value-0123456789"

    def echo(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        return Response(500, {}, json.dumps(dict(headers)).encode(), 1.0)

    out = io.StringIO()
    status = Smoke("http://127.0.0.1:9", secret, echo, out=out).run()
    assert status == 1
    assert secret not in out.getvalue()
    assert smoke.REDACTED in out.getvalue()


def test_the_token_comes_from_the_environment_or_its_ssm_parameter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SMOKE_TOKEN first; else SMOKE_TOKEN_PARAMETER read with decryption; else exit 2."""
    assert smoke.token_from_environment({"SMOKE_TOKEN": "a"}) == "a"
    calls: list[dict[str, Any]] = []

    class FakeSsm:
        def get_parameter(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return {"Parameter": {"Value": "from-ssm"}}

    class FakeBoto3:
        @staticmethod
        def client(service: str) -> FakeSsm:
            assert service == "ssm"
            return FakeSsm()

    monkeypatch.setitem(sys.modules, "boto3", FakeBoto3)
    name = "/fastapi-on-aws/dev/api-token"
    assert smoke.token_from_environment({"SMOKE_TOKEN_PARAMETER": name}) == "from-ssm"
    assert calls == [{"Name": name, "WithDecryption": True}]
    with pytest.raises(smoke.UsageError, match="SMOKE_TOKEN"):
        smoke.token_from_environment({})
    assert smoke.main(["http://127.0.0.1:9"], environ={}) == 2
    assert smoke.main(["ftp://example.com"], environ={"SMOKE_TOKEN": "a"}) == 2
