"""Offline plan: run the real program under mocks, print its resource tree, draw its diagram.

``python -m infra.tooling.plan --stack prod --compute lambda [--out docs/diagrams]``
needs no AWS credentials, no Pulumi CLI and no Docker: it runs
``infra/__main__.py`` with the mocks of ``infra/tooling/mocks.py`` and

1. prints the resource tree (component -> resources, each with its type and
   the few properties that matter) and the totals by type;
2. writes ``<out>/<stack>-<compute>.mmd``, a Mermaid flowchart generated from
   the registered resources: one subgraph per component, one node per
   resource (numbered siblings such as per-AZ subnets folded into one node),
   and an edge for every reference between resources, labelled with the
   input that carries it.

``--all`` does this for every stack and shape, writes ``<out>/README.md``
with every diagram in a ``mermaid`` fence (GitHub renders it), and draws the
small architecture pictures (infra/tooling/architecture.py:
``<out>/architecture-<compute>.mmd``, embedded with a dev/prod table in the
repository's README.md). The output is deterministic
(sorted, ids from logical names, no computed values in the diagram), so the
committed diagrams can be checked by a test (tests/infra/tooling/test_plan.py).
No secret is ever printed: only whitelisted, non-secret inputs are shown.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra.tooling import architecture
from infra.tooling.cost_report import render_plan_estimate
from infra.tooling.mocks import REPO_ROOT, ResourceRecord, StackResult, run_stack

STACKS: Final = ("dev", "prod")
COMPUTES: Final = ("fargate", "lambda")
DEFAULT_OUT: Final = REPO_ROOT / "docs" / "diagrams"
REFRESH_COMMAND: Final = ".venv/bin/python -m infra.tooling.plan --all --quiet"

# The few inputs worth showing per type (never a secret-bearing one).
KEY_PROPS: Final[dict[str, tuple[str, ...]]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "fromPort",
        "toPort",
        "cidrIpv4",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("fromPort", "toPort", "cidrIpv4"),
    "aws:ec2/route:Route": ("destinationCidrBlock",),
    "aws:ecr/repository:Repository": ("imageTagMutability",),
    "aws:ssm/parameter:Parameter": ("name", "type"),
    "random:index/randomPassword:RandomPassword": ("length",),
    "aws:rds/instance:Instance": (
        "engine",
        "engineVersion",
        "instanceClass",
        "multiAz",
        "backupRetentionPeriod",
        "deletionProtection",
    ),
    "aws:rds/proxy:Proxy": ("engineFamily", "requireTls"),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "engineVersion",
        "nodeType",
        "numCacheClusters",
        "automaticFailoverEnabled",
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("retentionInDays",),
    "aws:ecs/taskDefinition:TaskDefinition": ("cpu", "memory"),
    "aws:ecs/service:Service": ("desiredCount", "launchType"),
    "aws:lb/loadBalancer:LoadBalancer": ("loadBalancerType", "internal"),
    "aws:lb/targetGroup:TargetGroup": ("targetType", "protocol", "port"),
    "aws:lb/listener:Listener": ("protocol", "port"),
    "aws:lambda/function:Function": ("packageType", "memorySize", "timeout", "architectures"),
    "aws:apigatewayv2/api:Api": ("protocolType",),
    "aws:apigatewayv2/stage:Stage": ("name",),
    "aws:apigatewayv2/integration:Integration": ("integrationType", "payloadFormatVersion"),
    "aws:appautoscaling/target:Target": ("minCapacity", "maxCapacity"),
    "docker:index/image:Image": ("build.target", "build.platform"),
}

_NUMBERED: Final = re.compile(r"^(?P<base>.+?)-(?P<index>\d+)$")


# ------------------------------------------------------------------ the tree


def _value(record: ResourceRecord, path: str) -> Any:
    node: Any = record.inputs
    for key in path.split("."):
        if not isinstance(node, dict) or key in record.secret_inputs:
            return None
        node = node.get(key)
    return node


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def key_props(record: ResourceRecord) -> str:
    """``key=value`` pairs for the inputs that matter for this type (no secrets)."""
    pairs = []
    for path in KEY_PROPS.get(record.type, ()):
        value = _value(record, path)
        if value is not None and value != "":
            pairs.append(f"{path}={_show(value)}")
    return " ".join(pairs)


def _children(result: StackResult) -> dict[str | None, list[ResourceRecord]]:
    """Records by parent URN (``None`` for children of the stack)."""
    urns = {record.urn for record in result.resources}
    children: dict[str | None, list[ResourceRecord]] = defaultdict(list)
    for record in result.resources:
        parent = record.parent if record.parent in urns else None
        children[parent].append(record)
    for records in children.values():
        records.sort(key=lambda record: (record.custom, record.name, record.type))
    return children


def render_tree(result: StackResult, compute: str) -> str:
    """The resource tree (components, then their resources) with totals by type."""
    children = _children(result)
    custom = result.custom_resources
    lines = [
        f"{result.stack} (compute={compute}): {len(custom)} resources in "
        f"{len(result.resources) - len(custom)} components"
    ]

    def walk(parent: str | None, prefix: str) -> None:
        records = children.get(parent, [])
        for index, record in enumerate(records):
            last = index == len(records) - 1
            branch, extend = ("└─ ", "   ") if last else ("├─ ", "│  ")
            details = key_props(record)
            flags = " [protect]" if record.protect else ""
            lines.append(
                f"{prefix}{branch}{record.name}  {record.type}{flags}"
                + (f"  {details}" if details else "")
            )
            walk(record.urn, prefix + extend)

    walk(None, "")
    lines.append("")
    lines.append("Totals by type:")
    totals = Counter(record.type for record in custom)
    width = max((len(kind) for kind in totals), default=0)
    for kind, count in sorted(totals.items()):
        lines.append(f"  {kind:<{width}}  {count}")
    lines.append(f"  {'total':<{width}}  {len(custom)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------- the diagram


@dataclass(frozen=True)
class _Node:
    id: str
    label: str
    component: str | None


def _group_name(record: ResourceRecord) -> str:
    """Fold per-AZ siblings (``network-private-0``, ``-1``…) into one node name."""
    match = _NUMBERED.fullmatch(record.name)
    return match.group("base") if match else record.name


def _mermaid_id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _short_type(type_token: str) -> str:
    """``aws:ec2/securityGroup:SecurityGroup`` -> ``ec2.SecurityGroup``."""
    package, module, kind = type_token.split(":")
    module = module.split("/")[0]
    return kind if module == "index" and package != "aws" else f"{module}.{kind}"


def render_mermaid(result: StackResult, compute: str) -> str:
    """A Mermaid flowchart of the stack: components as subgraphs, references as edges."""
    by_urn = {record.urn: record for record in result.resources}
    components = {record.urn: record for record in result.resources if not record.custom}

    def component_of(record: ResourceRecord) -> str | None:
        parent = record.parent
        while parent is not None and parent in by_urn:
            if parent in components:
                return parent
            parent = by_urn[parent].parent
        return None

    nodes: dict[str, _Node] = {}
    counts: Counter[str] = Counter()
    node_of: dict[str, str] = {}
    for record in result.custom_resources:
        base = _group_name(record)
        node_id = _mermaid_id(base, record.type.split(":")[-1])
        counts[node_id] += 1
        node_of[record.urn] = node_id
        label = f"{base}<br/><small>{_short_type(record.type)}"
        nodes[node_id] = _Node(node_id, label, component_of(record))

    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in result.custom_resources:
        source = node_of[record.urn]
        referenced: list[tuple[str, str]] = [
            (key, urn) for key, urns in record.property_dependencies.items() for urn in urns
        ]
        explicit = set(record.depends_on) - {urn for _, urn in referenced}
        referenced += [("dependsOn", urn) for urn in explicit]
        for key, urn in referenced:
            target = node_of.get(urn)
            if target is not None and target != source:
                edges[(source, target)].add(key)

    lines = [
        "%% Generated by `python -m infra.tooling.plan` from the mocked program: do not edit.",
        f"%% stack={result.stack} compute={compute}; refresh with: {REFRESH_COMMAND}",
        "flowchart LR",
    ]

    def node_line(node: _Node) -> str:
        count = counts[node.id]
        suffix = f" x{count}" if count > 1 else ""
        return f'{node.id}["{node.label}{suffix}</small>"]'

    children_of: dict[str | None, list[str]] = defaultdict(list)
    for urn, component in components.items():
        owner = component_of(component)
        children_of[owner].append(urn)

    def emit_component(urn: str, indent: str) -> None:
        record = components[urn]
        lines.append(
            f'{indent}subgraph {_mermaid_id("c", record.name)}["{record.name}: '
            f'{_short_type(record.type)}"]'
        )
        for child in sorted(children_of.get(urn, []), key=lambda u: components[u].name):
            emit_component(child, indent + "  ")
        for node in sorted(nodes.values(), key=lambda n: n.id):
            if node.component == urn:
                lines.append(f"{indent}  {node_line(node)}")
        lines.append(f"{indent}end")

    for urn in sorted(children_of.get(None, []), key=lambda u: components[u].name):
        emit_component(urn, "  ")
    for node in sorted(nodes.values(), key=lambda n: n.id):
        if node.component is None:
            lines.append(f"  {node_line(node)}")
    for (source, target), keys in sorted(edges.items()):
        lines.append(f"  {source} -->|{', '.join(sorted(keys))}| {target}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- running


@functools.cache
def build(stack: str, compute: str) -> StackResult:
    """Run the real program under mocks for one stack and shape (once per process)."""
    return run_stack(stack, compute)


def diagram_path(out: Path, stack: str, compute: str) -> Path:
    """Where the diagram of one variant is written."""
    return out / f"{stack}-{compute}.mmd"


def plan(stack: str, compute: str, out: Path, *, quiet: bool = False) -> Path:
    """Print the tree of one variant and write its diagram; return the diagram's path."""
    result = build(stack, compute)
    if not quiet:
        sys.stdout.write(render_tree(result, compute))
        sys.stdout.write(render_plan_estimate(result))
    path = diagram_path(out, stack, compute)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_mermaid(result, compute), encoding="utf-8")
    sys.stdout.write(f"wrote {path}\n")
    return path


def render_index(diagrams: Mapping[tuple[str, str], str]) -> str:
    """docs/diagrams/README.md: every diagram in a ``mermaid`` fence (GitHub renders them)."""
    lines = [
        "# Architecture diagrams",
        "",
        "Generated by `python -m infra.tooling.plan --all` from the resources the real program",
        "registers under mocks (infra/tooling/mocks.py): do not edit by hand;",
        "tests/infra/tooling/test_plan.py fails when they are out of date",
        f"(refresh: `{REFRESH_COMMAND}`).",
        "",
        "One subgraph per component; an arrow `A -->|input| B` means resource A",
        "refers to B through that input (or `dependsOn`); `xN` folds N numbered",
        "siblings (one per availability zone, port, …) into one node.",
    ]
    for (stack, compute), diagram in sorted(diagrams.items()):
        lines += [
            "",
            f"## {stack} stack, {compute} shape",
            "",
            "```mermaid",
            diagram.rstrip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _variants(options: argparse.Namespace) -> Iterable[tuple[str, str]]:
    if options.all:
        return [(stack, compute) for stack in STACKS for compute in COMPUTES]
    return [(options.stack, options.compute)]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.tooling.plan", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--stack", default="dev", choices=STACKS)
    parser.add_argument("--compute", default="fargate", choices=COMPUTES)
    parser.add_argument("--all", action="store_true", help="every stack and compute shape")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="diagram directory")
    parser.add_argument("--quiet", action="store_true", help="write diagrams, skip the tree")
    options = parser.parse_args(argv)
    for stack, compute in _variants(options):
        plan(stack, compute, options.out, quiet=options.quiet)
    if options.all:
        diagrams = {
            (stack, compute): diagram_path(options.out, stack, compute).read_text(encoding="utf-8")
            for stack in STACKS
            for compute in COMPUTES
        }
        index = options.out / "README.md"
        index.write_text(render_index(diagrams), encoding="utf-8")
        sys.stdout.write(f"wrote {index}\n")
        # README.md shows the architecture pictures only when the default
        # directory (the committed one) is refreshed.
        readme = architecture.README_PATH if options.out == DEFAULT_OUT else None
        for path in architecture.refresh(options.out, readme, build):
            sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
