"""``python -m bench`` (``make bench``): every benchmark, one table of figures and ratios.

1. HTTP (:mod:`bench.http_load`): the service under uvicorn with production
   settings on PostgreSQL and Redis against a bare FastAPI app and, for the
   item routes, a minimal asyncpg app doing the same work; loaded by wrk.
2. Lambda cold start (:mod:`bench.cold_start`): fresh interpreters serving one
   event, ``lambda_handler`` against a same-work and a bare FastAPI + Mangum app.
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
from dataclasses import dataclass, replace
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
    note: str = ""
    # Counts (connections opened) are read as they are: a ratio to 0 means nothing.
    has_ratio: bool = True

    @property
    def ratio(self) -> float | None:
        """Service over baseline, or None for a count."""
        return self.service / self.baseline if self.has_ratio and self.baseline else None


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _ratio_rows(
    label: str,
    service: http_load.LoadResult,
    baseline: http_load.LoadResult,
    min_throughput_ratio: float | None,
    max_p99_ratio: float | None,
) -> list[Row]:
    """Requests/s, p50 and p99 against one baseline, with the targets given."""
    throughput_met = p99_met = None
    if min_throughput_ratio is not None:
        throughput_met = (
            service.requests_per_second / baseline.requests_per_second >= min_throughput_ratio
        )
    if max_p99_ratio is not None:
        p99_met = service.p99_ms / baseline.p99_ms <= max_p99_ratio
    return [
        Row(
            label,
            "req/s",
            service.requests_per_second,
            baseline.requests_per_second,
            f">= {min_throughput_ratio}x" if min_throughput_ratio is not None else "",
            throughput_met,
        ),
        Row(label, "p50 ms", service.p50_ms, baseline.p50_ms),
        Row(
            label,
            "p99 ms",
            service.p99_ms,
            baseline.p99_ms,
            f"<= {max_p99_ratio}x" if max_p99_ratio is not None else "",
            p99_met,
        ),
    ]


def same_work_rows(result: http_load.HttpResult) -> list[Row]:
    """Each item route against the same-work app, then the connections each run opened."""
    rows = []
    for c in result.comparisons:
        same = c.endpoint.same_work
        if same is None or c.same_work is None:
            continue
        figures = _ratio_rows(
            f"HTTP {same.label}",
            c.service,
            c.same_work,
            same.min_throughput_ratio,
            same.max_p99_ratio,
        )
        throughput, p50, p99 = figures
        if throughput.met is not None and p99.met is not None:
            # The target is the pair: the req/s row is "met" only when both hold.
            throughput = replace(
                throughput,
                met=throughput.met and p99.met,
                note=f"met needs p99 {p99.target} too",
            )
        rows += [throughput, p50, p99]
    for c in result.comparisons:
        if c.endpoint.same_work is None:
            continue
        # Service, same-work app; steady load should open no connection on either.
        rows.append(
            Row(
                f"PG connections opened, {c.endpoint.same_work.label.split(' vs ')[0]}",
                "per run",
                c.service_connections,
                c.same_work_connections,
                "= 0",
                c.service_connections == 0,
                note="most in one run; baseline: same-work",
                has_ratio=False,
            )
        )
    return rows


def http_rows(result: http_load.HttpResult) -> list[Row]:
    """Requests/s, p50 and p99 of each endpoint against the bare app, with the targets."""
    rows = []
    for c in result.comparisons:
        endpoint = c.endpoint
        rows += _ratio_rows(
            f"HTTP {endpoint.label}",
            c.service,
            c.baseline,
            endpoint.min_throughput_ratio,
            endpoint.max_p99_ratio,
        )
    return rows


def compression_rows(result: http_load.HttpResult) -> list[Row]:
    """The 100-item page gzipped against the same page uncompressed: cost and bytes saved."""
    by_label = {c.endpoint.label: c.service for c in result.comparisons}
    gzip = by_label.get(http_load.LIST_100_GZIP)
    identity = by_label.get(http_load.LIST_100_IDENTITY)
    if gzip is None or identity is None:
        return []
    label = "HTTP list 100: gzip vs identity"
    return [
        Row(label, "req/s", gzip.requests_per_second, identity.requests_per_second),
        Row(label, "p99 ms", gzip.p99_ms, identity.p99_ms),
        Row(
            label,
            "B/response",
            gzip.bytes_per_response,
            identity.bytes_per_response,
            note="wrk Transfer/sec over req/s, headers included",
        ),
    ]


def cold_rows(result: cold_start.ColdStartResult) -> list[Row]:
    """Median cold start of the handler against the same-work and the bare Mangum apps."""
    return [
        Row(
            "Lambda cold start vs same-work, GET /api/v1/items",
            "median ms",
            result.handler.median * 1000,
            result.same_work.median * 1000,
            f"<= {cold_start.TARGET_RATIO}x",
            result.same_work_ratio <= cold_start.TARGET_RATIO,
            note=f"spread {result.handler.spread} vs {result.same_work.spread}",
        ),
        # The bare route answers a constant without any database: informational.
        Row(
            "Lambda cold start, GET /api/v1/items",
            "median ms",
            result.handler.median * 1000,
            result.baseline.median * 1000,
            note=f"vs bare route; spread {result.baseline.spread}",
        ),
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
        f"{'figure':<52}{'unit':<11}{'service':>10}{'baseline':>10}{'ratio':>8}"
        f"  {'target':<9}{'result':<7}note"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        verdict = "" if row.met is None else ("met" if row.met else "MISSED")
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        service, baseline = (
            (_number(row.service), _number(row.baseline))
            if row.has_ratio
            else (f"{row.service:.0f}", f"{row.baseline:.0f}")
        )
        lines.append(
            f"{row.figure:<52}{row.unit:<11}{service:>10}{baseline:>10}{ratio:>8}"
            f"  {row.target:<9}{verdict:<7}{row.note}".rstrip()
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
    if args.cold_samples < cold_start.MIN_SAMPLES:
        parser.error(f"--cold-samples must be at least {cold_start.MIN_SAMPLES}")
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
            rows += http_rows(result) + same_work_rows(result) + compression_rows(result)
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
