"""The architecture pictures (infra/tooling/architecture.py): read from the run, not a template."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.tooling import architecture, plan
from infra.tooling.architecture import Architecture, ArchitectureError, Edge
from infra.tooling.mocks import ResourceRecord, StackResult
from tests.infra.conftest import VARIANTS, BuildStack
from tests.infra.harness import REPO_ROOT


def _build(build_stack: BuildStack) -> Callable[[str, str], StackResult]:
    return lambda stack, compute: build_stack(stack, compute=compute)


def picture(build_stack: BuildStack, stack: str, compute: str, **config: object) -> Architecture:
    """The architecture of one mocked run with config overrides."""
    return architecture.architecture(build_stack(stack, compute=compute, **config), compute)


def edges(arch: Architecture) -> dict[tuple[str, str], Edge]:
    """Arrows by (source, target)."""
    return {(edge.source, edge.target): edge for edge in arch.edges}


# ------------------------------------------------------------ current files


def test_committed_pictures_and_table_are_current(build_stack: BuildStack) -> None:
    """docs/diagrams/architecture-*.mmd and README.md's generated blocks, as drawn today."""
    texts = architecture.generate(_build(build_stack))
    for compute in architecture.COMPUTES:
        path = architecture.diagram_path(architecture.DEFAULT_OUT, compute)
        assert path.exists(), f"{path} is missing: run `{architecture.REFRESH_COMMAND}`"
        assert path.read_text(encoding="utf-8") == texts[f"architecture-{compute}"], (
            f"{path.relative_to(REPO_ROOT)} is out of date: run `{architecture.REFRESH_COMMAND}`"
        )
    readme = architecture.README_PATH.read_text(encoding="utf-8")
    assert readme == architecture.embed(readme, architecture.readme_blocks(texts)), (
        f"README.md's generated blocks are out of date: run `{architecture.REFRESH_COMMAND}`"
    )
    for compute in architecture.COMPUTES:
        diagram = texts[f"architecture-{compute}"].rstrip()
        assert f"```mermaid\n{diagram}\n```" in readme
    assert texts["dev-prod"] in readme


def test_embedding_refuses_missing_or_unknown_markers() -> None:
    """A README that lost a block, or has one nobody generates, is an error."""
    with pytest.raises(ArchitectureError, match="no '<!-- generated: NAME -->' block"):
        architecture.embed("# nothing here\n", {"dev-prod": "| |\n"})
    stale = "<!-- generated: old -->\nx\n<!-- /generated -->\n"
    with pytest.raises(ArchitectureError, match="nobody generates"):
        architecture.embed(stale, {})


def test_plan_all_writes_the_pictures_and_leaves_the_readme_alone_elsewhere(
    build_stack: BuildStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m infra.tooling.plan --all --out DIR`` writes architecture-*.mmd into DIR."""
    monkeypatch.setattr(plan, "build", _build(build_stack))
    before = architecture.README_PATH.read_text(encoding="utf-8")
    assert plan.main(["--all", "--quiet", "--out", str(tmp_path)]) == 0
    for compute in architecture.COMPUTES:
        written = architecture.diagram_path(tmp_path, compute).read_text(encoding="utf-8")
        committed = architecture.diagram_path(architecture.DEFAULT_OUT, compute)
        assert written == committed.read_text(encoding="utf-8")
    assert architecture.README_PATH.read_text(encoding="utf-8") == before


# ------------------------------------------------------------- from the run


@pytest.mark.parametrize(("stack", "compute"), VARIANTS)
def test_every_variant_fits_in_twenty_nodes(
    build_stack: BuildStack, stack: str, compute: str
) -> None:
    """Small enough to read; subgraphs nest public and private subnets inside the VPC."""
    diagram = architecture.render(picture(build_stack, stack, compute))
    assert architecture.count_nodes(diagram) <= architecture.MAX_NODES
    vpc = diagram.index('subgraph vpc["VPC ')
    assert vpc < diagram.index("subgraph public[") < diagram.index("subgraph private[")


@pytest.mark.parametrize("compute", architecture.COMPUTES)
def test_endpoints_and_per_az_nat_still_fit(build_stack: BuildStack, compute: str) -> None:
    """The largest network: three AZs, a NAT per AZ and every VPC endpoint."""
    arch = picture(build_stack, "prod", compute, natStrategy="per-az", vpcEndpoints=True, azCount=3)
    assert len(arch.nodes) <= architecture.MAX_NODES
    assert architecture.count_nodes(architecture.render(arch)) == len(arch.nodes)


def test_nat_strategy_is_counted_from_the_nat_gateways(build_stack: BuildStack) -> None:
    """single: one NAT in the first AZ; per-az: one per AZ; the label follows."""
    single = picture(build_stack, "dev", "fargate", natStrategy="single")
    per_az = picture(build_stack, "dev", "fargate", natStrategy="per-az")
    three = picture(build_stack, "dev", "fargate", natStrategy="per-az", azCount=3)
    assert single.nodes["nat"].label == "NAT gateway<br/>(1a)"
    assert per_az.nodes["nat"].label == "2 NAT gateways<br/>(1a, 1b)"
    assert three.nodes["nat"].label == "3 NAT gateways<br/>(1a, 1b, 1c)"
    assert three.public_title == "3 public subnets (1a, 1b, 1c)"
    assert single.private_title == "2 private subnets (1a, 1b)"
    for arch in (single, per_az, three):
        assert arch.nodes["nat"].place == "public"


def test_fargate_reaches_ecr_ssm_and_logs_through_nat(build_stack: BuildStack) -> None:
    """Image pull, awslogs and SSM secrets leave through the tasks' own interfaces."""
    arch = picture(build_stack, "prod", "fargate")
    arrows = edges(arch)
    assert arrows[("tasks", "nat")].label == "443"
    assert {target for source, target in arrows if source == "nat"} == {"ecr", "ssm", "logs"}
    assert not [edge for edge in arch.edges if edge.dashed]
    assert arrows[("client", "alb")].label == "443, 80"
    assert arch.nodes["alb"].label.endswith("HTTPS :443<br/>HTTP :80 → :443")
    assert arch.nodes["alb"].place == "public"
    assert arch.nodes["tasks"].place == "private"
    assert "proxy" not in arch.nodes
    dev = picture(build_stack, "dev", "fargate")
    assert edges(dev)[("client", "alb")].label == "80"
    assert dev.nodes["alb"].label.endswith("<br/>HTTP :80")


def test_lambda_goes_through_nat_for_ssm_only(build_stack: BuildStack) -> None:
    """The function reads SSM itself; the Lambda service pulls its image and ships its logs."""
    arch = picture(build_stack, "prod", "lambda")
    arrows = edges(arch)
    assert arch.nodes["api"].place == "outside"  # AWS runs the HTTP API outside the VPC
    assert arch.nodes["fn"].place == "private"
    assert "alias live" in arch.nodes["fn"].label
    assert arrows[("api", "fn")].label == "invoke (AWS_PROXY)"
    assert arrows[("fn", "proxy")].label == "5432"
    assert arrows[("proxy", "db")].label == "5432"
    assert ("fn", "db") not in arrows
    assert {target for source, target in arrows if source == "nat"} == {"ssm"}
    assert arrows[("ecr", "fn")].dashed
    assert arrows[("fn", "logs")].dashed
    assert "reserved" not in picture(build_stack, "dev", "lambda").nodes["fn"].label
    assert "50 reserved" in arch.nodes["fn"].label


@pytest.mark.parametrize("compute", architecture.COMPUTES)
def test_vpc_endpoints_replace_the_nat_path(build_stack: BuildStack, compute: str) -> None:
    """natStrategy none + vpcEndpoints: no NAT box, the APIs through the endpoints."""
    arch = picture(build_stack, "dev", compute, natStrategy="none", vpcEndpoints=True)
    arrows = edges(arch)
    compute_id = "tasks" if compute == "fargate" else "fn"
    assert "nat" not in arch.nodes
    assert arch.nodes["vpce"].label.startswith("4 interface endpoints<br/>ecr.api, ecr.dkr")
    assert arch.nodes["vpce"].place == "private"
    assert arch.nodes["vpce_gw"].place == "vpc"
    assert arrows[(compute_id, "vpce")].label == "443"
    if compute == "fargate":
        assert {t for s, t in arrows if s == "vpce"} == {"ecr", "ssm", "logs"}
        assert arrows[("vpce_gw", "s3")].label == "image pull"
    else:
        assert {t for s, t in arrows if s == "vpce"} == {"ssm"}
        assert arch.nodes["vpce_gw"].label.endswith("(unused here)")
        assert "s3" not in arch.nodes
    # Both: a NAT and endpoints; the endpoints win (private DNS), the NAT stays drawn.
    both = picture(build_stack, "dev", compute, natStrategy="single", vpcEndpoints=True)
    assert not [edge for edge in both.edges if edge.target == "nat"]
    assert "nat" in both.nodes


# ----------------------------------------------------- ports from the rules


def _rule(result: StackResult, type_suffix: str, name: str) -> ResourceRecord:
    (record,) = [
        r for r in result.resources if r.type.endswith(type_suffix) and r.name.endswith(name)
    ]
    return record


def test_port_labels_are_the_security_group_rules(build_stack: BuildStack) -> None:
    """Every arrow between two secured resources says the ports their rules allow."""
    checked = 0
    for compute in architecture.COMPUTES:
        for config in ({}, {"natStrategy": "none", "vpcEndpoints": True}):
            result = build_stack("prod", compute=compute, **config)
            arch = architecture.architecture(result, compute)
            network = architecture.read_network(result)
            ingress, _ = architecture.read_rules(result)
            for edge in arch.edges:
                source, target = arch.nodes[edge.source], arch.nodes[edge.target]
                if not (source.groups and target.groups):
                    continue  # the internet, an AWS API, a NAT gateway: no group on one end
                allowed = {
                    str(rule.ports[0])
                    for rule in ingress
                    if rule.group in target.groups
                    and (rule.peer in source.groups or rule.cidr == network.cidr)
                }
                assert set(edge.label.split(", ")) == allowed, edge
                checked += 1
    # fargate: alb -> tasks, tasks -> db, cache (+ tasks -> endpoints);
    # lambda: fn -> proxy, proxy -> db, fn -> cache (+ fn -> endpoints)
    assert checked == 3 + 4 + 3 + 4


def test_a_changed_rule_changes_the_label_and_a_missing_one_is_an_error(
    build_stack: BuildStack,
) -> None:
    """Move the ALB -> tasks rules to 9000: the arrow says 9000; drop one: no arrow is drawn."""
    result = copy.deepcopy(build_stack("prod", compute="fargate"))
    for type_suffix, name in (
        ("SecurityGroupIngressRule", "task-in-alb"),
        ("SecurityGroupEgressRule", "alb-out-tasks"),
    ):
        rule = _rule(result, type_suffix, name)
        rule.inputs["fromPort"] = rule.inputs["toPort"] = 9000.0
    assert edges(architecture.architecture(result, "fargate"))[("alb", "tasks")].label == "9000"

    redis_rule = _rule(result, "SecurityGroupIngressRule", "cache-in-tasks")
    result.resources.remove(redis_rule)
    with pytest.raises(ArchitectureError, match="no security-group rules let tasks reach cache"):
        architecture.architecture(result, "fargate")


def test_an_open_https_listener_port_reaches_the_client_arrow(build_stack: BuildStack) -> None:
    """The client arrow lists the ports the ALB's group admits from 0.0.0.0/0."""
    result = copy.deepcopy(build_stack("prod", compute="fargate"))
    rule = _rule(result, "SecurityGroupIngressRule", "alb-in-80")
    result.resources.remove(rule)
    assert edges(architecture.architecture(result, "fargate"))[("client", "alb")].label == "443"


# ----------------------------------------------------------- dev/prod table


def test_dev_prod_table_is_read_from_the_runs(build_stack: BuildStack) -> None:
    """Rows carry each stack's registered values; another run gives other cells."""
    table = architecture.generate(_build(build_stack))["dev-prod"]
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()
        )
    }
    assert rows["availability zones"] == ["2 (1a, 1b)", "3 (1a, 1b, 1c)"]
    assert rows["NAT gateways"] == ["1", "3 (one per AZ)"]
    assert rows["RDS PostgreSQL"] == ["db.t4g.micro, single-AZ", "db.t4g.medium, Multi-AZ"]
    assert rows["ElastiCache Redis nodes"][0] == "1 x cache.t4g.micro"
    assert rows["ElastiCache Redis nodes"][1].startswith("2 x cache.t4g.small, automatic")
    assert rows["Lambda concurrency, memory (lambda)"][0].startswith("unreserved")
    assert rows["Lambda concurrency, memory (lambda)"][1].startswith("50 reserved")
    assert rows["ALB listeners (fargate)"] == ["HTTP 80", "HTTPS 443, HTTP 80 (redirect)"]
    assert re.match(r"1 \(scales 1-2\)", rows["Fargate tasks (fargate)"][0])

    def other(stack: str, compute: str) -> StackResult:
        if stack == "dev":
            return build_stack(stack, compute=compute, natStrategy="per-az")
        return build_stack(stack, compute=compute)

    changed = architecture.generate(other)["dev-prod"]
    assert "| NAT gateways | 2 (one per AZ) | 3 (one per AZ) |" in changed
