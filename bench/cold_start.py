"""Cold start of ``lambda_handler`` against a same-work and a bare FastAPI + Mangum app.

Each sample is a fresh ``python -c`` process that imports a handler module and
serves one HTTP API (payload 2.0) ``GET /api/v1/items`` event, timed from just
before the process is spawned to the moment it reports the response: interpreter
start, imports, settings, app start-up and the first request, as on a Lambda
cold start (minus the sandbox). The real handler runs on SQLite and the
in-process cache in a temporary directory, migrated beforehand, with
``ENVIRONMENT=test``. Two baselines: :mod:`bench.same_work_lambda_app` (FastAPI +
Mangum answering the same event from the same SQLite file with one query: the
target applies to it) and :mod:`bench.bare_lambda_app` (a constant answer, no
database: informational). Samples alternate (handler, same-work, bare, handler,
...) so machine noise hits all alike; the results are ratios of the medians,
with each series' spread (minimum to maximum) beside them.

Run ``python -m bench.cold_start`` (``--help`` for options), or call
:func:`measure_cold_start` from other benchmark code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HANDLER_MODULE = "lambda_handler"
BASELINE_MODULE = "bench.bare_lambda_app"
SAME_WORK_MODULE = "bench.same_work_lambda_app"
# Against the same-work app; the bare-route ratio has no target.
TARGET_RATIO = 1.0
DEFAULT_SAMPLES = 15
# `python -m bench` refuses fewer rounds: the median of fewer moves too much between runs.
MIN_SAMPLES = 5
MIN_CLI_SAMPLES = 15
DEFAULT_PATH = "/api/v1/items"
SAMPLE_TIMEOUT_SECONDS = 60.0
# Printed by the child in front of its result, so log lines on stdout cannot be mistaken for it.
RESULT_MARKER = "@@cold-start-result@@ "

# The child: import the handler module, serve one event, report the status code.
CHILD_CODE = f"""
import importlib, json, sys
handler = importlib.import_module(sys.argv[1]).handler
result = handler(json.loads(sys.argv[2]), None)
sys.stdout.write({RESULT_MARKER!r} + json.dumps({{"status": result.get("statusCode")}}) + "\\n")
sys.stdout.flush()
"""

# Service settings a developer's shell might hold; the samples must not inherit them.
_SERVICE_VARIABLES = (
    "ENVIRONMENT",
    "DATABASE_URL",
    "DATABASE_PASSWORD",
    "REDIS_URL",
    "REDIS_PASSWORD",
    "API_TOKEN",
    "LOG_LEVEL",
    "CORS_ORIGINS",
    "CACHE_TTL_SECONDS",
    "API_TOKEN_SSM_PARAMETER",
    "DATABASE_PASSWORD_SSM_PARAMETER",
    "REDIS_PASSWORD_SSM_PARAMETER",
)


class BenchmarkError(RuntimeError):
    """A sample failed: the child crashed, timed out or did not answer 200."""


@dataclass(frozen=True)
class Samples:
    """The cold-start times of one handler module, in seconds."""

    name: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        """The 90th percentile (inclusive method; the maximum for fewer than 2 samples)."""
        return percentile(self.seconds, 90)

    @property
    def spread(self) -> str:
        """The fastest and slowest sample, ``"min-max ms"``."""
        return f"{min(self.seconds) * 1000:.0f}-{max(self.seconds) * 1000:.0f} ms"


@dataclass(frozen=True)
class ColdStartResult:
    """The three series from one interleaved run, and how long the run took."""

    handler: Samples
    baseline: Samples
    same_work: Samples
    elapsed_seconds: float

    @property
    def ratio(self) -> float:
        """Median cold start of the handler over the bare app's (informational)."""
        return self.handler.median / self.baseline.median

    @property
    def same_work_ratio(self) -> float:
        """Median cold start of the handler over the same-work app's (the target's)."""
        return self.handler.median / self.same_work.median

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (milliseconds)."""
        return {
            series.name: {
                "samples": len(series.seconds),
                "median_ms": round(series.median * 1000, 1),
                "p90_ms": round(series.p90 * 1000, 1),
            }
            for series in (self.handler, self.same_work, self.baseline)
        } | {
            "ratio_vs_same_work": round(self.same_work_ratio, 3),
            "ratio_vs_bare": round(self.ratio, 3),
            "target_ratio": TARGET_RATIO,
            "elapsed_s": round(self.elapsed_seconds, 1),
        }


def percentile(values: tuple[float, ...] | list[float], pct: float) -> float:
    """The ``pct``-th percentile of ``values``, interpolating between closest ranks."""
    if not values:
        raise ValueError("no samples")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def http_api_event(path: str = DEFAULT_PATH) -> dict[str, Any]:
    """A minimal but well-formed API Gateway HTTP API (payload 2.0) GET event."""
    domain = "bench0000.execute-api.eu-west-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "host": domain,
            "user-agent": "cold-start-bench",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench0000",
            "domainName": domain,
            "domainPrefix": "bench0000",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "cold-start-bench",
            },
            "requestId": "bench-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795435200000,
        },
        "isBase64Encoded": False,
    }


def service_environment(workdir: Path) -> dict[str, str]:
    """The environment of a handler sample: SQLite + in-process cache under ``workdir``."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARIABLES}
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        LOG_LEVEL="WARNING",
    )
    return env


def run_sample(
    module: str, event: Mapping[str, Any], env: Mapping[str, str], python: str = sys.executable
) -> float:
    """Spawn one fresh interpreter that imports ``module`` and serves ``event``; seconds taken."""
    started = time.perf_counter()
    with subprocess.Popen(
        [python, "-c", CHILD_CODE, module, json.dumps(event)],
        cwd=REPO_ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        answered: float | None = None
        status: Any = None
        for line in child.stdout:
            if line.startswith(RESULT_MARKER):
                answered = time.perf_counter()
                status = json.loads(line[len(RESULT_MARKER) :])["status"]
                break
        try:
            _, stderr = child.communicate(timeout=SAMPLE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            raise BenchmarkError(f"{module}: no exit within {SAMPLE_TIMEOUT_SECONDS} s") from None
    if answered is None:
        raise BenchmarkError(
            f"{module}: exited with {child.returncode} before answering; stderr:\n{stderr[-2000:]}"
        )
    if status != 200:
        raise BenchmarkError(
            f"{module}: answered {status}, expected 200; stderr:\n{stderr[-2000:]}"
        )
    return answered - started


def migrate(env: Mapping[str, str], python: str = sys.executable) -> None:
    """Apply the migrations to the sample database (through the handler's migrate action)."""
    code = (
        "import json, lambda_handler; "
        "print(json.dumps(lambda_handler.handler({'action': 'migrate'}, None)))"
    )
    completed = subprocess.run(
        [python, "-c", code],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=SAMPLE_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0 or '"status": "ok"' not in completed.stdout:
        raise BenchmarkError(f"migrating the benchmark database failed:\n{completed.stderr}")


def measure_cold_start(
    samples: int = DEFAULT_SAMPLES,
    *,
    path: str = DEFAULT_PATH,
    handler_module: str = HANDLER_MODULE,
    baseline_module: str = BASELINE_MODULE,
    same_work_module: str = SAME_WORK_MODULE,
    python: str = sys.executable,
    progress: Callable[[str], None] | None = None,
) -> ColdStartResult:
    """Interleave ``samples`` cold starts of each module and return the three series.

    ``python`` is the interpreter of the samples: by default this one; the
    interpreter of a runtime-only environment measures what the image ships.
    One untimed warm-up run of each comes first, so byte-code caches are written
    before anything is measured.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    say = progress or (lambda _message: None)
    event = http_api_event(path)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        env = service_environment(Path(tmp))
        migrate(env, python)
        run_sample(handler_module, event, env, python)
        run_sample(baseline_module, event, env, python)
        run_sample(same_work_module, event, env, python)
        handler_times: list[float] = []
        baseline_times: list[float] = []
        same_work_times: list[float] = []
        for index in range(1, samples + 1):
            handler_times.append(run_sample(handler_module, event, env, python))
            same_work_times.append(run_sample(same_work_module, event, env, python))
            baseline_times.append(run_sample(baseline_module, event, env, python))
            say(
                f"  {index:>3}/{samples}  handler {handler_times[-1] * 1000:7.1f} ms"
                f"   same-work {same_work_times[-1] * 1000:7.1f} ms"
                f"   bare {baseline_times[-1] * 1000:7.1f} ms"
            )
    return ColdStartResult(
        handler=Samples(handler_module, tuple(handler_times)),
        baseline=Samples(baseline_module, tuple(baseline_times)),
        same_work=Samples(same_work_module, tuple(same_work_times)),
        elapsed_seconds=time.perf_counter() - started,
    )


def report(result: ColdStartResult) -> str:
    """A short table: median, p90 and spread of each, the ratios and the target."""
    rows = [f"{'':<28}{'median':>10}{'p90':>10}{'samples':>9}  spread"]
    for series in (result.handler, result.same_work, result.baseline):
        rows.append(
            f"{series.name:<28}{series.median * 1000:>8.1f}ms{series.p90 * 1000:>8.1f}ms"
            f"{len(series.seconds):>9}  {series.spread}"
        )
    verdict = "within" if result.same_work_ratio <= TARGET_RATIO else "ABOVE"
    rows.append(
        f"ratio of medians: {result.same_work_ratio:.2f}x the same-work app ({verdict} the "
        f"{TARGET_RATIO}x target), {result.ratio:.2f}x the bare route; "
        f"run took {result.elapsed_seconds:.1f} s"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark, print progress and the table (or JSON)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cold_start", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        help=f"cold starts of each module (at least {MIN_CLI_SAMPLES}; default {DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--path", default=DEFAULT_PATH, help=f"request path (default {DEFAULT_PATH})"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the samples (default: this one); e.g. a runtime-only venv's "
        "python, to measure what the Lambda image ships (see docs/lambda.md)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=None,
        help="exit with status 1 when the ratio of medians to the same-work app is above this",
    )
    args = parser.parse_args(argv)
    if args.samples < MIN_CLI_SAMPLES:
        parser.error(f"--samples must be at least {MIN_CLI_SAMPLES} for a stable median")

    print(
        f"cold start: {args.samples} interleaved samples of each, GET {args.path}, {args.python}",
        file=sys.stderr,
    )
    try:
        result = measure_cold_start(
            args.samples,
            path=args.path,
            python=args.python,
            progress=lambda line: print(line, file=sys.stderr),
        )
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2) if args.json else report(result))
    if args.max_ratio is not None and result.same_work_ratio > args.max_ratio:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
