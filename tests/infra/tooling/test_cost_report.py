"""The cost report (infra/tooling/cost_report.py): coverage of every variant, estimates, docs."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from unittest import mock

import pytest

from infra.documents import cost
from infra.tooling import cost_report
from infra.tooling import mocks as infra_mocks
from tests.infra.components.test_domain import DOMAIN, ZONE, DomainMocks
from tests.infra.conftest import VARIANTS, BuildStack

IDS = [f"{stack}-{compute}" for stack, compute in VARIANTS]


@functools.cache
def _tested_variant_types() -> frozenset[str]:
    """Every resource type of every tested variant: dev/prod x fargate/lambda, custom
    domain, natStrategy=none with VPC endpoints, and the cheaper dev."""
    variants: list[tuple[str, str, dict[str, object]]] = [
        (stack, compute, {}) for stack, compute in VARIANTS
    ]
    for compute in ("fargate", "lambda"):
        variants.append(
            ("prod", compute, {"domainName": DOMAIN, "hostedZoneId": ZONE, "certificateArn": None})
        )
        variants.append(("dev", compute, {"natStrategy": "none", "vpcEndpoints": True}))
        variants.append(("dev", compute, {"authMode": "jwt", "authCognito": True}))
    cheap = dict(cost_report.CHEAP_DEV_OVERRIDES)
    variants.append(("dev", str(cheap.pop("compute")), cheap))
    types: set[str] = set()
    with mock.patch.object(infra_mocks, "RecordingMocks", DomainMocks):
        for stack, compute, overrides in variants:
            config = infra_mocks.layered_config(stack, compute, overrides)
            result = infra_mocks.run_program(stack, config)
            types |= {record.type for record in result.custom_resources}
    return frozenset(types)


def test_every_resource_type_of_every_tested_variant_is_priced_or_free() -> None:
    """A price rule or an explicit no-charge row for each type the program creates."""
    types = _tested_variant_types()
    for expected in (  # the variants reach the optional resources, or this is hollow
        "aws:acm/certificate:Certificate",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:rds/proxy:Proxy",
        "aws:ecs/service:Service",
        "aws:cognito/userPoolClient:UserPoolClient",
    ):
        assert expected in types, expected
    table = cost_report.price_table()
    assert cost.unpriced_types(types, table) == []
    # And the check can fail: a table without one no-charge row misses that type.
    trimmed = cost.PriceTable(
        regions=table.regions,
        no_charge={k: v for k, v in table.no_charge.items() if k != "aws:ec2/subnet:Subnet"},
    )
    assert cost.unpriced_types(types, trimmed) == ["aws:ec2/subnet:Subnet"]


def test_no_charge_rows_name_only_types_the_program_creates() -> None:
    """No stale no-charge rows: each names a type some tested variant creates."""
    stale = sorted(set(cost_report.price_table().no_charge) - _tested_variant_types())
    assert stale == []


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=IDS)
def test_each_variant_has_a_total_with_components_and_assumptions(
    build_stack: BuildStack, stack: str, compute: str
) -> None:
    """The printed estimate: banner, components, total, fixed/usage split, assumptions."""
    result = build_stack(stack, compute=compute)
    estimate = cost_report.estimate_stack(result)
    text = cost_report.render_estimate(estimate, f"{stack}, compute={compute}")
    assert text.startswith(f"Monthly cost estimate: {stack}, compute={compute} (eu-west-1,")
    assert text.splitlines()[1].startswith("UNVERIFIED: "), "unverified rows are used: say so"
    total = re.search(r"^  total\s+([\d,]+\.\d\d)$", text, flags=re.MULTILINE)
    assert total
    assert float(total.group(1).replace(",", "")) == pytest.approx(estimate.total, abs=0.005)
    assert estimate.total > 50, "every variant has always-on parts"
    assert estimate.fixed + estimate.usage == pytest.approx(estimate.total)
    assert "  assumptions:\n    hours in a month (always-on resources): 730 h" in text
    components = set(estimate.by_component())
    assert {"network", "database", "cache", "app"} <= components
    for secret in result.secret_values:
        assert secret not in text


def test_the_variants_differ_where_the_config_says() -> None:
    """Prod costs more than dev; the Lambda shape has the proxy and no ALB."""
    totals = {
        (stack, compute): cost_report.estimate_stack(cost_report.build_variant(stack, compute))
        for stack, compute in VARIANTS
    }
    assert totals[("prod", "fargate")].total > totals[("dev", "fargate")].total
    assert totals[("prod", "lambda")].total > totals[("dev", "lambda")].total
    lambda_keys = set(totals[("dev", "lambda")].by_key())
    fargate_keys = set(totals[("dev", "fargate")].by_key())
    assert "rds_proxy_vcpu_hour" in lambda_keys
    assert "alb_hour" not in lambda_keys
    assert "alb_hour" in fargate_keys
    assert "rds_proxy_vcpu_hour" not in fargate_keys
    nat_hours = sum(
        line.quantity
        for line in totals[("prod", "fargate")].lines
        if line.key == "nat_gateway_hour"
    )
    assert nat_hours == pytest.approx(3 * 730), "prod runs a NAT gateway per AZ"


def test_the_cheaper_dev_costs_less_than_todays_dev() -> None:
    """Below today's dev in both shapes, by the model."""
    cheap = cost_report.estimate_stack(cost_report.build_cheap_dev()).total
    for compute in ("fargate", "lambda"):
        today = cost_report.estimate_stack(cost_report.build_variant("dev", compute)).total
        assert cheap < today, compute


def test_endpoints_instead_of_nat_cost_more_in_dev() -> None:
    """Four interface endpoints across two AZs cost more than the NAT gateway they replace."""
    dev = cost_report.estimate_stack(cost_report.build_variant("dev", "fargate"))
    endpoints = cost_report.estimate_stack(
        cost_report.build_variant("dev", "fargate", {"natStrategy": "none", "vpcEndpoints": True})
    )
    assert endpoints.total > dev.total


def test_plan_prints_the_estimate(build_stack: BuildStack) -> None:
    """``make plan``'s addition: a blank line, then the estimate of that stack."""
    text = cost_report.render_plan_estimate(build_stack("prod", compute="lambda"))
    assert text.startswith("\nMonthly cost estimate: prod, compute=lambda (eu-west-1,")
    assert "rds_proxy_vcpu_hour" in text or "app  " in text


def test_committed_cost_doc_is_current() -> None:
    """docs/cost.md equals what the model generates today."""
    expected = cost_report.render_doc()
    assert cost_report.DOC_PATH.exists(), f"run `{cost_report.REFRESH_COMMAND}`"
    assert cost_report.DOC_PATH.read_text(encoding="utf-8") == expected, (
        f"docs/cost.md is out of date: run `{cost_report.REFRESH_COMMAND}`"
    )
    assert "| component | dev fargate | dev lambda | prod fargate | prod lambda |" in expected
    assert "## A cheaper dev" in expected
    assert "> UNVERIFIED: " in expected


def test_check_command_fails_on_a_stale_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--check`` exits 1 and names the refresh command when the doc differs."""
    stale = tmp_path / "cost.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(cost_report, "DOC_PATH", stale)
    assert cost_report.main(["--check"]) == 1
    assert cost_report.REFRESH_COMMAND in capsys.readouterr().err
    assert cost_report.main(["--write"]) == 0
    assert cost_report.main(["--check"]) == 0


def test_readme_shows_the_models_totals() -> None:
    """The README's one-line totals are the model's, rounded to dollars (no stale figure)."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")

    def dollars(stack: str, compute: str) -> str:
        total = cost_report.estimate_stack(cost_report.build_variant(stack, compute)).total
        return f"${total:,.0f}"

    cheap = f"${cost_report.estimate_stack(cost_report.build_cheap_dev()).total:,.0f}"
    dev = f"- dev: {dollars('dev', 'fargate')} (fargate) or {dollars('dev', 'lambda')} (lambda)"
    prod = f"- prod: {dollars('prod', 'fargate')} (fargate) or {dollars('prod', 'lambda')} (lambda)"
    assert f"{dev}; a cheaper dev config: {cheap}" in readme
    assert prod in readme
