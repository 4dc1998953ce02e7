"""``python -m bench`` (``make bench``): every benchmark, one table of figures and ratios.

1. HTTP (:mod:`bench.http_load`): the service under uvicorn with production
   settings on PostgreSQL and Redis against a bare FastAPI app, loaded by wrk.
2. Lambda cold start (:mod:`bench.cold_start`): fresh interpreters serving one
   event, ``lambda_handler`` against a bare FastAPI + Mangum app.
3. Lambda warm invocations (:mod:`bench.lambda_warm`).

Both sides of every ratio are measured on this machine in this run. Progress
goes to stderr, the table to stdout. Exit status: 0 once the table is printed
(with ``--check``: 1 when a target is missed), 2 when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType

from bench import cold_start, http_load, lambda_warm


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, its baseline, their ratio and the target, if any."""

    figure: str
    unit: str
    service: float
    baseline: float
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float:
        """Service over baseline."""
        return self.service / self.baseline


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def http_rows(result: http_load.HttpResult) -> list[Row]:
    """Requests/s, p50 and p99 of each endpoint, with the issue's targets."""
    rows = []
    for c in result.comparisons:
        endpoint = c.endpoint
        throughput_target = ""
        throughput_met = None
        if endpoint.min_throughput_ratio is not None:
            throughput_target = f">= {endpoint.min_throughput_ratio}x"
            throughput_met = c.throughput_ratio >= endpoint.min_throughput_ratio
        p99_target = ""
        p99_met = None
        if endpoint.max_p99_ratio is not None:
            p99_target = f"<= {endpoint.max_p99_ratio}x"
            p99_met = c.p99_ratio <= endpoint.max_p99_ratio
        label = f"HTTP {endpoint.label}"
        rows += [
            Row(
                label,
                "req/s",
                c.service.requests_per_second,
                c.baseline.requests_per_second,
                throughput_target,
                throughput_met,
            ),
            Row(label, "p50 ms", c.service.p50_ms, c.baseline.p50_ms),
            Row(label, "p99 ms", c.service.p99_ms, c.baseline.p99_ms, p99_target, p99_met),
        ]
    return rows


def cold_rows(result: cold_start.ColdStartResult) -> list[Row]:
    """Median cold start of the handler against the bare Mangum app."""
    return [
        Row(
            "Lambda cold start, GET /api/v1/items",
            "median ms",
            result.handler.median * 1000,
            result.baseline.median * 1000,
            f"<= {cold_start.TARGET_RATIO}x",
            result.ratio <= cold_start.TARGET_RATIO,
        )
    ]


def warm_rows(comparisons: tuple[lambda_warm.WarmComparison, ...]) -> list[Row]:
    """Median warm invocation of each figure; the target applies to the no-I/O one."""
    rows = []
    for c in comparisons:
        rows.append(
            Row(
                f"Lambda warm {c.label}",
                "median us",
                c.handler.median * 1e6,
                c.baseline.median * 1e6,
                f"<= {lambda_warm.TARGET_RATIO}x" if c.has_target else "",
                c.ratio <= lambda_warm.TARGET_RATIO if c.has_target else None,
            )
        )
    return rows


def render(rows: list[Row]) -> str:
    """The table, one figure per line."""
    header = (
        f"{'figure':<48}{'unit':<11}{'service':>10}{'baseline':>10}{'ratio':>8}"
        f"  {'target':<9}{'result':<6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        verdict = "" if row.met is None else ("met" if row.met else "MISSED")
        lines.append(
            f"{row.figure:<48}{row.unit:<11}{_number(row.service):>10}"
            f"{_number(row.baseline):>10}{row.ratio:>7.2f}x  {row.target:<9}{verdict:<6}"
        )
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and print the table."""
    # Ctrl-C and SIGTERM unwind through the context managers, which stop the servers
    # and drop the database (even when started with SIGINT ignored, as `cmd &` is).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", choices=["http", "cold", "warm"], action="append", help="run only these parts"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=http_load.DEFAULT_DURATION,
        help="seconds per wrk run (default %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=http_load.DEFAULT_ROUNDS,
        help="alternating baseline/service runs per endpoint (default %(default)s)",
    )
    parser.add_argument(
        "--cold-samples",
        type=int,
        default=cold_start.DEFAULT_SAMPLES,
        help="cold starts of each side (default %(default)s)",
    )
    parser.add_argument(
        "--cold-python",
        default=sys.executable,
        help=(
            "interpreter of both sides' cold starts; `make bench` passes a runtime-only "
            "venv so dev tools installed here do not weigh on the handler's imports "
            "(default: this interpreter)"
        ),
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    parts = args.only or ["http", "cold", "warm"]

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    rows: list[Row] = []
    try:
        if "http" in parts:
            progress(f"[http] wrk, {http_load.CONNECTIONS} connections, {args.duration:g} s runs")
            result = http_load.measure_http(
                duration=args.duration, rounds=args.rounds, progress=progress
            )
            rows += http_rows(result)
            progress(f"[http] done in {result.elapsed_seconds:.0f} s (event loop: {result.loop})")
        if "cold" in parts:
            progress(f"[lambda cold start] {args.cold_samples} interleaved samples of each")
            cold = cold_start.measure_cold_start(
                args.cold_samples, python=args.cold_python, progress=progress
            )
            rows += cold_rows(cold)
        if "warm" in parts:
            progress("[lambda warm] alternating series in fresh interpreters")
            rows += warm_rows(lambda_warm.measure_warm(progress=progress))
    except (http_load.BenchmarkError, cold_start.BenchmarkError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # The context managers have already stopped the servers and dropped the database.
        print("interrupted; everything the benchmark started has been stopped", file=sys.stderr)
        return 130

    print(render(rows))
    missed = [row for row in rows if row.met is False]
    print(
        f"\n{len(rows)} figures in {time.perf_counter() - started:.0f} s; "
        + (
            "every target met"
            if not missed
            else "missed: " + "; ".join(f"{r.figure} {r.unit}" for r in missed)
        )
    )
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
