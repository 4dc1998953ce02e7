"""What a stack costs a month: the cost model (infra/documents/cost.py) over a mocked run.

``make plan`` prints ``render_plan_estimate`` after the resource tree: per
component and total, fixed against usage-driven, with the assumptions. No AWS
call: the input is the resource graph the real program registers under mocks.

``python -m infra.tooling.cost_report --write`` regenerates docs/cost.md (the
four variants side by side, the biggest lines, what each config key does to the
bill, the cheaper dev); ``--check`` fails when the committed file is out of
date (tests/infra/tooling/test_cost_report.py runs the same comparison).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from infra.documents import cost
from infra.tooling.mocks import REPO_ROOT, StackResult, layered_config, run_program

DOC_PATH: Final = REPO_ROOT / "docs" / "cost.md"
REFRESH_COMMAND: Final = ".venv/bin/python -m infra.tooling.cost_report --write"
STACKS: Final = ("dev", "prod")
COMPUTES: Final = ("fargate", "lambda")

# The cheaper dev: existing config keys only, set on the dev stack. The Lambda
# shape has no ALB, no always-on task and no per-AZ public ALB addresses; its
# RDS Proxy costs less than what it replaces. arm64 lowers the GB-second rate,
# 512 MB halves the GB-seconds, 7-day logs keep half the storage. What it does
# NOT do: drop the NAT gateway for VPC endpoints (more expensive, see docs/cost.md).
CHEAP_DEV_OVERRIDES: Final[Mapping[str, object]] = {
    "compute": "lambda",
    "cpuArchitecture": "arm64",
    "lambdaMemoryMb": 512,
    "logRetentionDays": 7,
}

# What each config key does to the bill: (key, change, base stack, base compute, overrides).
KEY_EFFECTS: Final[tuple[tuple[str, str, str, str, Mapping[str, object]], ...]] = (
    ("natStrategy", "single -> per-az (dev)", "dev", "fargate", {"natStrategy": "per-az"}),
    (
        "natStrategy + vpcEndpoints",
        "single -> none, endpoints on (dev)",
        "dev",
        "fargate",
        {"natStrategy": "none", "vpcEndpoints": True},
    ),
    ("azCount", "2 -> 3 (dev)", "dev", "fargate", {"azCount": 3}),
    ("dbMultiAz", "false -> true (dev)", "dev", "fargate", {"dbMultiAz": True}),
    (
        "dbInstanceClass",
        "db.t4g.micro -> db.t4g.medium (dev)",
        "dev",
        "fargate",
        {"dbInstanceClass": "db.t4g.medium"},
    ),
    (
        "cacheNodeType",
        "cache.t4g.micro -> cache.t4g.small (dev)",
        "dev",
        "fargate",
        {"cacheNodeType": "cache.t4g.small"},
    ),
    ("containerInsights", "false -> true (dev)", "dev", "fargate", {"containerInsights": True}),
    ("logRetentionDays", "14 -> 365 (dev)", "dev", "fargate", {"logRetentionDays": 365}),
    ("cpuArchitecture", "x86_64 -> arm64 (dev)", "dev", "fargate", {"cpuArchitecture": "arm64"}),
)


# ------------------------------------------------------------------ the model


def component_of(result: StackResult, record_urn: str) -> str:
    """The outermost component a resource sits in (``-`` for children of the stack)."""
    record = result.by_urn(record_urn)
    ancestors = [parent for parent in result.ancestors(record) if not parent.custom]
    return ancestors[-1].name if ancestors else "-"


def resources_of(result: StackResult) -> list[cost.Resource]:
    """The stack's provider resources as the cost model's plain values."""
    return [
        cost.Resource(
            type=record.type,
            name=record.name,
            component=component_of(result, record.urn),
            inputs=record.inputs,
        )
        for record in result.custom_resources
    ]


@functools.cache
def price_table() -> cost.PriceTable:
    """The price table, read once."""
    return cost.load_prices()


def estimate_stack(
    result: StackResult, assumptions: cost.Assumptions | None = None
) -> cost.Estimate:
    """The monthly estimate of a mocked run, in the stack's own region."""
    region = result.config.get("aws:region", "")
    return cost.estimate(resources_of(result), region, price_table(), assumptions)


# ------------------------------------------------------------------ rendering


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def render_estimate(estimate: cost.Estimate, title: str) -> str:
    """A plain-text estimate: banner, components, total, biggest lines, assumptions."""
    lines = [f"Monthly cost estimate: {title} ({estimate.region}, on-demand USD)"]
    if estimate.banner():
        lines.append(estimate.banner())
    components = estimate.by_component()
    width = max((len(name) for name in components), default=5)
    for name, amount in components.items():
        lines.append(f"  {name:<{width}}  {amount:>10,.2f}")
    lines.append(f"  {'total':<{width}}  {estimate.total:>10,.2f}")
    lines.append(
        f"  fixed (always on) {_usd(estimate.fixed)}, usage-driven {_usd(estimate.usage)}; "
        f"{len(estimate.free)} resources cost nothing by themselves"
    )
    lines.append("  biggest lines:")
    for line in sorted(estimate.lines, key=lambda item: -item.usd)[:5]:
        lines.append(
            f"    {line.usd:>9,.2f}  {line.resource} {line.key}: {line.quantity:,.2f} "
            f"{line.unit} x ${line.unit_usd:g} ({line.detail})"
        )
    lines.append("  assumptions:")
    for name, value in estimate.assumptions.describe():
        lines.append(f"    {name}: {value}")
    return "\n".join(lines) + "\n"


def render_plan_estimate(result: StackResult) -> str:
    """What ``make plan`` prints after the tree (a blank line first)."""
    compute = result.config.get("fastapi-on-aws:compute", "?")
    return "\n" + render_estimate(estimate_stack(result), f"{result.stack}, compute={compute}")


# ------------------------------------------------------------------ docs/cost.md


@functools.cache
def _build(stack: str, compute: str, overrides: tuple[tuple[str, object], ...] = ()) -> StackResult:
    return run_program(stack, layered_config(stack, compute, dict(overrides)))


def build_variant(
    stack: str, compute: str, overrides: Mapping[str, object] | None = None
) -> StackResult:
    """One mocked run (cached: docs/cost.md needs a dozen)."""
    return _build(stack, compute, tuple(sorted((overrides or {}).items())))


def build_cheap_dev() -> StackResult:
    """The cheaper dev: the dev stack with ``CHEAP_DEV_OVERRIDES``."""
    overrides = dict(CHEAP_DEV_OVERRIDES)
    compute = str(overrides.pop("compute"))
    return build_variant("dev", compute, overrides)


@dataclass(frozen=True)
class _Column:
    title: str
    estimate: cost.Estimate


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _side_by_side(columns: Sequence[_Column]) -> list[str]:
    names = sorted({name for column in columns for name in column.estimate.by_component()})
    rows = [
        [name] + [_usd(column.estimate.by_component().get(name, 0.0)) for column in columns]
        for name in names
    ]
    rows.append(["**fixed (always on)**"] + [_usd(c.estimate.fixed) for c in columns])
    rows.append(["**usage-driven**"] + [_usd(c.estimate.usage) for c in columns])
    rows.append(["**total a month**"] + [f"**{_usd(c.estimate.total)}**" for c in columns])
    return _table(["component"] + [column.title for column in columns], rows)


def _biggest(columns: Sequence[_Column], count: int = 6) -> list[str]:
    out: list[str] = []
    for column in columns:
        keys = list(column.estimate.by_key().items())[:count]
        parts = ", ".join(f"{key} {_usd(amount)}" for key, amount in keys)
        out.append(f"- **{column.title}**: {parts}")
    return out


def _price_rows(table: cost.PriceTable, region: str) -> list[str]:
    rows = []
    for key, row in sorted(table.rows(region).items()):
        status = "unverified" if row.unverified else f"read {row.read}"
        rows.append([f"`{key}`", f"${row.usd:g} / {row.unit}", status])
    return _table(["price key", "unit price", "source"], rows)


def render_doc() -> str:
    """docs/cost.md, from the model over mocked runs of every variant."""
    table = price_table()
    variants = [
        _Column(f"{stack} {compute}", estimate_stack(build_variant(stack, compute)))
        for stack in STACKS
        for compute in COMPUTES
    ]
    region = variants[0].estimate.region
    rows = table.rows(region)
    verified = sum(1 for row in rows.values() if not row.unverified)
    cheap = _Column("cheaper dev", estimate_stack(build_cheap_dev()))
    dev_fargate, dev_lambda = variants[0], variants[1]
    any_banner = next((c.estimate.banner() for c in variants if c.estimate.banner()), "")
    lines = [
        "# What it costs",
        "",
        "Generated by `python -m infra.tooling.cost_report --write` from the cost model",
        "(infra/documents/cost.py) over the resources the real program registers under mocks:",
        "do not edit by hand; tests/infra/tooling/test_cost_report.py fails when it is out of",
        f"date (refresh: `{REFRESH_COMMAND}`). `make plan` prints the same estimate per stack.",
        "",
        f"On-demand list prices for {region}, in USD a month, before tax, free tiers and",
        "discounts. Every unit price is a row of infra/documents/prices.toml with its source",
        f"and the date it was read: {verified} of the {len(rows)} rows are verified for",
        f"{region}; the others are marked `unverified` (a US-East or region-less figure, or",
        "none could be read) and the estimates say so:",
        "",
        f"> {any_banner}" if any_banner else "> Every price used is verified.",
        "",
        "## The four variants",
        "",
        *_side_by_side(variants),
        "",
        "*Fixed* is what the stack costs with no traffic at all (hours and months);",
        "*usage-driven* follows the assumptions below.",
        "",
        "The biggest lines (by price key):",
        "",
        *_biggest(variants),
        "",
        "## Assumptions",
        "",
        *_table(
            ["assumption", "default"],
            [[name, value] for name, value in cost.Assumptions().describe()],
        ),
        "",
        "Change them in `cost.Assumptions`; the estimate of a stack with real traffic is",
        "dominated by requests and GB, which only a bill can tell.",
        "",
        "## What each config key does to the bill",
        "",
        "Each row builds the stack with one change and compares the model's totals.",
        "",
        *_key_effects(),
        "",
        "- **RDS Proxy** (the Lambda shape only): "
        + _proxy_line(variants[1].estimate, variants[3].estimate),
        "",
        "## A cheaper dev",
        "",
        "Existing config keys only, set on the dev stack:",
        "",
        "```sh",
        *[
            f"pulumi config set --stack dev fastapi-on-aws:{key} {value}"
            for key, value in CHEAP_DEV_OVERRIDES.items()
        ],
        "```",
        "",
        *_side_by_side([dev_fargate, dev_lambda, cheap]),
        "",
        f"The cheaper dev costs {_usd(cheap.estimate.total)} a month against "
        f"{_usd(dev_fargate.estimate.total)} for today's dev (Fargate shape, "
        f"{_usd(dev_fargate.estimate.total - cheap.estimate.total)} less) and "
        f"{_usd(dev_lambda.estimate.total)} for today's dev in the Lambda shape "
        f"({_usd(dev_lambda.estimate.total - cheap.estimate.total)} less). The Lambda shape drops",
        "the ALB, its per-AZ public IPv4 addresses and the always-on Fargate task; its RDS",
        "Proxy costs less than they do. arm64 lowers the Lambda GB-second rate, 512 MB halves",
        "the GB-seconds and 7-day logs keep half the log storage. It passes every policy of the",
        "pack and the stack tests (tests/infra/test_cheap_dev.py).",
        "",
        "What it deliberately keeps: the single NAT gateway. `natStrategy=none` needs",
        "`vpcEndpoints=true`, and interface endpoints are billed per AZ-hour: the four of them",
        "(ECR API, ECR Docker, CloudWatch Logs, SSM) across two AZs cost more than one NAT",
        "gateway and its address (see the natStrategy + vpcEndpoints row above). The Lambda",
        "shape is cheaper at dev traffic; at sustained traffic Lambda and HTTP API charges grow",
        "with requests while the Fargate shape's grow with tasks.",
        "",
        f"## Price rows ({region})",
        "",
        *_price_rows(table, region),
        "",
        "Sources, dates and the unverified marks are in infra/documents/prices.toml; resource",
        "types that cost nothing by themselves are its `[no_charge]` rows.",
    ]
    return "\n".join(lines) + "\n"


def _key_effects() -> list[str]:
    rows = []
    for key, change, stack, compute, overrides in KEY_EFFECTS:
        base = estimate_stack(build_variant(stack, compute))
        changed = estimate_stack(build_variant(stack, compute, overrides))
        delta = changed.total - base.total
        rows.append([f"`{key}`", change, f"{'+' if delta >= 0 else '-'}{_usd(abs(delta))}"])
    return _table(["config key", "change", "monthly difference"], rows)


def _proxy_line(dev_lambda: cost.Estimate, prod_lambda: cost.Estimate) -> str:
    def proxy(estimate: cost.Estimate) -> float:
        return sum(line.usd for line in estimate.lines if line.key == "rds_proxy_vcpu_hour")

    return (
        f"{_usd(proxy(dev_lambda))} a month in dev and {_usd(proxy(prod_lambda))} in prod, billed "
        "on the vCPUs of the database instance it fronts (at least two), whatever the traffic."
    )


# ------------------------------------------------------------------ command line


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: print one stack's estimate, or write/check docs/cost.md."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.tooling.cost_report", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--stack", default="dev", choices=STACKS)
    parser.add_argument("--compute", default="fargate", choices=COMPUTES)
    parser.add_argument("--cheap-dev", action="store_true", help="the cheaper dev config")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="regenerate docs/cost.md")
    action.add_argument("--check", action="store_true", help="fail if docs/cost.md is stale")
    options = parser.parse_args(argv)
    if options.write:
        DOC_PATH.write_text(render_doc(), encoding="utf-8")
        sys.stdout.write(f"wrote {DOC_PATH}\n")
        return 0
    if options.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != render_doc():
            sys.stderr.write(f"{DOC_PATH} is out of date: run `{REFRESH_COMMAND}`\n")
            return 1
        sys.stdout.write(f"{DOC_PATH} is current\n")
        return 0
    if options.cheap_dev:
        sys.stdout.write(render_estimate(estimate_stack(build_cheap_dev()), "cheaper dev"))
        return 0
    result = build_variant(options.stack, options.compute)
    sys.stdout.write(
        render_estimate(estimate_stack(result), f"{options.stack}, compute={options.compute}")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
