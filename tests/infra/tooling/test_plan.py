"""The offline plan (infra/tooling/plan.py): resource tree, Mermaid diagrams, current diagrams."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.tooling import architecture, plan
from tests.infra.conftest import VARIANTS, BuildStack
from tests.infra.harness import REPO_ROOT

IDS = [f"{stack}-{compute}" for stack, compute in VARIANTS]


def test_readme_shows_the_architecture_not_the_full_resource_graphs() -> None:
    """The full graphs stay in docs/diagrams/ (linked); the README embeds the small pictures.

    tests/infra/tooling/test_architecture.py checks the embedded pictures are current.
    """
    readme = architecture.README_PATH.read_text(encoding="utf-8")
    assert "subgraph c_" not in readme, "a full resource graph is back in README.md"
    assert "(docs/diagrams/README.md)" in readme
    for compute in architecture.COMPUTES:
        assert f"<!-- generated: architecture-{compute} -->" in readme


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=IDS)
def test_committed_diagrams_are_current(build_stack: BuildStack, stack: str, compute: str) -> None:
    """docs/diagrams/<stack>-<compute>.mmd equals what the program generates today."""
    path = plan.diagram_path(REPO_ROOT / "docs" / "diagrams", stack, compute)
    expected = plan.render_mermaid(build_stack(stack, compute=compute), compute)
    assert path.exists(), f"{path} is missing: run `{plan.REFRESH_COMMAND}`"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(REPO_ROOT)} is out of date with the program: "
        f"run `{plan.REFRESH_COMMAND}` and commit docs/diagrams/"
    )


def test_committed_diagram_index_embeds_every_current_diagram(build_stack: BuildStack) -> None:
    """docs/diagrams/README.md shows all four diagrams, as generated today."""
    diagrams = {
        (stack, compute): plan.render_mermaid(build_stack(stack, compute=compute), compute)
        for stack, compute in VARIANTS
    }
    index = REPO_ROOT / "docs" / "diagrams" / "README.md"
    assert index.read_text(encoding="utf-8") == plan.render_index(diagrams), (
        f"docs/diagrams/README.md is out of date: run `{plan.REFRESH_COMMAND}`"
    )
    assert index.read_text(encoding="utf-8").count("```mermaid") == len(VARIANTS)


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=IDS)
def test_diagram_has_every_component_and_resource(
    build_stack: BuildStack, stack: str, compute: str
) -> None:
    """One subgraph per component; every custom resource lands in a node."""
    result = build_stack(stack, compute=compute)
    diagram = plan.render_mermaid(result, compute)
    assert diagram.splitlines()[2] == "flowchart LR"
    for component in (record for record in result.resources if not record.custom):
        # Mermaid ids carry no '-': plan's own spelling of the id (access-logs).
        node_id = plan._mermaid_id("c", component.name)
        assert f'subgraph {node_id}["{component.name}: ' in diagram
    nodes = re.findall(r"^\s+(\w+)\[\"", diagram, flags=re.MULTILINE)
    assert len(nodes) == len(set(nodes)), "node ids are unique"
    counted = 0
    for line in diagram.splitlines():
        match = re.search(r"<small>[^<]*? x(\d+)</small>", line)
        if re.match(r"^\s+\w+\[\"", line):
            counted += int(match.group(1)) if match else 1
    assert counted == len(result.custom_resources)
    for edge in re.findall(r"^\s+(\w+) -->\|[^|]+\| (\w+)$", diagram, flags=re.MULTILINE):
        assert set(edge) <= set(nodes), edge


def test_fargate_diagram_follows_the_traffic_references(build_stack: BuildStack) -> None:
    """Listener -> ALB and target group; service -> target group; data SG rules -> tasks SG."""
    diagram = plan.render_mermaid(build_stack("prod", compute="fargate"), "fargate")
    for edge in (
        "app_https_Listener -->|loadBalancerArn| app_alb_LoadBalancer",
        "app_https_Listener -->|defaultActions| app_tg_TargetGroup",
        "app_service_Service -->|loadBalancers| app_tg_TargetGroup",
        "app_service_Service -->|dependsOn| app_https_Listener",
        "app_db_in_tasks_SecurityGroupIngressRule -->|securityGroupId| database_sg_SecurityGroup",
        "database_instance_Instance -->|dbSubnetGroupName| database_subnets_SubnetGroup",
    ):
        assert edge in diagram, edge


def test_lambda_diagram_follows_the_request_path(build_stack: BuildStack) -> None:
    """Route -> integration -> alias/function; function -> proxy via its environment."""
    diagram = plan.render_mermaid(build_stack("dev", compute="lambda"), "lambda")
    assert 'subgraph c_app["app: serverless.' in diagram
    assert "app_route_Route -->|target| app_integration_Integration" in diagram
    assert re.search(r"app_function_Function -->\|[^|]*environment[^|]*\| app_proxy_Proxy", diagram)


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=IDS)
def test_tree_lists_components_resources_and_totals_without_secrets(
    build_stack: BuildStack, stack: str, compute: str
) -> None:
    """Component -> resources with type and key props, totals by type, no secret value."""
    result = build_stack(stack, compute=compute)
    tree = plan.render_tree(result, compute)
    assert tree.startswith(f"{stack} (compute={compute}): {len(result.custom_resources)} resources")
    assert "├─ database  fastapi-on-aws:database:Database" in tree
    assert re.search(r"│  ├─ database-instance  aws:rds/instance:Instance.* engine=postgres", tree)
    totals = tree.split("Totals by type:\n")[1]
    assert re.search(rf"total\s+{len(result.custom_resources)}$", totals.strip())
    assert re.search(r"aws:ec2/subnet:Subnet\s+" + str(2 * int(result.config[
        "fastapi-on-aws:azCount"])), totals)  # fmt: skip
    for secret in result.secret_values:
        assert secret not in tree, "the tree printed a secret"


def test_command_prints_the_tree_and_writes_the_diagram(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m infra.tooling.plan --stack dev --compute lambda --out DIR`` (a real run)."""
    assert plan.main(["--stack", "dev", "--compute", "lambda", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("dev (compute=lambda): ")
    assert "Totals by type:" in printed
    written = tmp_path / "dev-lambda.mmd"
    assert f"wrote {written}" in printed
    committed = REPO_ROOT / "docs" / "diagrams" / "dev-lambda.mmd"
    assert written.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")


def test_command_rejects_an_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    """A clear error naming the allowed values."""
    with pytest.raises(SystemExit):
        plan.main(["--stack", "staging"])
    assert "invalid choice: 'staging' (choose from 'dev', 'prod')" in capsys.readouterr().err
