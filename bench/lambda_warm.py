"""Warm Lambda invocations of ``lambda_handler`` against a bare FastAPI + Mangum app.

Each series runs in its own fresh interpreter (the environment of
:mod:`bench.cold_start`: SQLite and the in-process cache in a temporary
directory, migrated beforehand): it imports the handler module, serves
:data:`WARMUP` untimed events, then times :data:`DEFAULT_INVOCATIONS`
invocations one by one, as Lambda would send them to a warm execution
environment. Handler and baseline series alternate for :data:`DEFAULT_ROUNDS`
rounds; the result compares the medians of all invocations.

Two figures: ``GET /health`` (what the runtime, the middleware and the
framework add per invocation: neither side touches a database) against the bare
app's one route, and ``GET /api/v1/items`` on both sides (the real handler also
queries SQLite there; the bare app returns a constant).

Run ``python -m bench.lambda_warm`` or call :func:`measure_warm`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cold_start import (
    BASELINE_MODULE,
    HANDLER_MODULE,
    REPO_ROOT,
    BenchmarkError,
    http_api_event,
    migrate,
    percentile,
    service_environment,
)

TARGET_RATIO = 1.2
WARMUP = 200
DEFAULT_INVOCATIONS = 2000
DEFAULT_ROUNDS = 2
SERIES_TIMEOUT_SECONDS = 120.0
BASELINE_PATH = "/api/v1/items"  # the bare app's only route
RESULT_MARKER = "@@warm-invocations@@ "

CHILD_CODE = f"""
import importlib, json, sys, time
handler = importlib.import_module(sys.argv[1]).handler
event = json.loads(sys.argv[2])
count, warmup = int(sys.argv[3]), int(sys.argv[4])
for _ in range(warmup):
    status = handler(event, None)["statusCode"]
    if status != 200:
        sys.exit(f"warm-up answered {{status}}")
clock = time.perf_counter
times = []
statuses = set()
for _ in range(count):
    started = clock()
    result = handler(event, None)
    times.append(clock() - started)
    statuses.add(result["statusCode"])
sys.stdout.write({RESULT_MARKER!r} + json.dumps({{"times": times, "statuses": sorted(statuses)}}))
sys.stdout.write("\\n")
"""


@dataclass(frozen=True)
class WarmSeries:
    """Per-invocation times of one handler module on one path, in seconds."""

    module: str
    path: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median invocation."""
        return statistics.median(self.seconds)

    @property
    def p99(self) -> float:
        """The 99th percentile invocation."""
        return percentile(self.seconds, 99)


@dataclass(frozen=True)
class WarmComparison:
    """The handler and the baseline on one figure."""

    label: str
    handler: WarmSeries
    baseline: WarmSeries
    has_target: bool

    @property
    def ratio(self) -> float:
        """Handler median over the baseline median."""
        return self.handler.median / self.baseline.median


def run_series(
    module: str, event: Mapping[str, Any], env: Mapping[str, str], invocations: int
) -> tuple[float, ...]:
    """Serve ``invocations`` warm events in a fresh interpreter; the time of each."""
    arguments = [module, json.dumps(event), str(invocations), str(WARMUP)]
    completed = subprocess.run(
        [sys.executable, "-c", CHILD_CODE, *arguments],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=SERIES_TIMEOUT_SECONDS,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER) :])
            if result["statuses"] != [200]:
                raise BenchmarkError(f"{module}: answered {result['statuses']}, expected 200")
            return tuple(result["times"])
    raise BenchmarkError(
        f"{module}: exited with {completed.returncode} before reporting; "
        f"stderr:\n{completed.stderr[-2000:]}"
    )


def measure_warm(
    invocations: int = DEFAULT_INVOCATIONS,
    rounds: int = DEFAULT_ROUNDS,
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[WarmComparison, ...]:
    """Both figures, handler and baseline series alternating for ``rounds`` rounds."""
    if invocations < 1 or rounds < 1:
        raise ValueError("invocations and rounds must be at least 1")
    say = progress or (lambda _message: None)
    figures = (
        ("GET /health vs bare route", "/health", True),
        ("GET /api/v1/items, both", "/api/v1/items", False),
    )
    comparisons = []
    with tempfile.TemporaryDirectory(prefix="lambda-warm-") as tmp:
        env = service_environment(Path(tmp))
        migrate(env)
        for label, path, has_target in figures:
            handler_times: list[float] = []
            baseline_times: list[float] = []
            for index in range(1, rounds + 1):
                handler_times += run_series(HANDLER_MODULE, http_api_event(path), env, invocations)
                baseline_times += run_series(
                    BASELINE_MODULE, http_api_event(BASELINE_PATH), env, invocations
                )
                say(
                    f"  lambda warm {label:<28} round {index}/{rounds}: handler "
                    f"{statistics.median(handler_times) * 1e6:7.0f} us, bare "
                    f"{statistics.median(baseline_times) * 1e6:7.0f} us (medians so far)"
                )
            comparisons.append(
                WarmComparison(
                    label,
                    WarmSeries(HANDLER_MODULE, path, tuple(handler_times)),
                    WarmSeries(BASELINE_MODULE, BASELINE_PATH, tuple(baseline_times)),
                    has_target,
                )
            )
    return tuple(comparisons)


def report(comparisons: tuple[WarmComparison, ...]) -> str:
    """Medians, p99s and ratios."""
    rows = [f"{'figure':<32}{'handler':>10}{'bare':>10}{'ratio':>8}{'p99':>10}{'bare p99':>10}"]
    for c in comparisons:
        rows.append(
            f"{c.label:<32}{c.handler.median * 1e6:>8.0f}us{c.baseline.median * 1e6:>8.0f}us"
            f"{c.ratio:>7.2f}x{c.handler.p99 * 1e6:>8.0f}us{c.baseline.p99 * 1e6:>8.0f}us"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the warm-invocation benchmark alone."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.lambda_warm", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--invocations", type=int, default=DEFAULT_INVOCATIONS)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        comparisons = measure_warm(
            args.invocations, args.rounds, progress=lambda line: print(line, file=sys.stderr)
        )
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report(comparisons))
    print(f"took {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
