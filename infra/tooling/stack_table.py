"""The dev-vs-prod table of the README, every cell read from a mocked run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from infra.tooling.architecture import (
    ALIAS,
    DATABASE,
    ECS_SERVICE,
    ENDPOINT,
    FLOW_LOG,
    LISTENER,
    LOG_GROUP,
    REDIS,
    SCALING_TARGET,
    STAGE,
    TABLE_STACKS,
    TASK_DEFINITION,
    _az_suffix,
    _days,
    _deps,
    _number,
    read_network,
)
from infra.tooling.mocks import StackResult


def zones(result: StackResult) -> str:
    """Availability zones and their suffixes."""
    network = read_network(result)
    return f"{len(network.zones)} ({_az_suffix(network.zones)})"


def nats(result: StackResult) -> str:
    """NAT gateways, and whether one per AZ."""
    network = read_network(result)
    count = len(network.nat_zones)
    if count > 1 and len(set(network.nat_zones)) == count == len(network.zones):
        return f"{count} (one per AZ)"
    return str(count)


def endpoints(result: StackResult) -> str:
    """VPC endpoints, or none."""
    found = result.find(ENDPOINT)
    return str(len(found)) if found else "none"


def listeners(result: StackResult) -> str:
    """ALB listeners by port, redirects marked."""
    parts = []
    for listener in sorted(result.find(LISTENER), key=lambda r: -_number(r.inputs["port"])):
        actions = listener.inputs.get("defaultActions") or [{}]
        redirect = " (redirect)" if actions[0].get("type") == "redirect" else ""
        parts.append(f"{listener.inputs['protocol']} {_number(listener.inputs['port'])}{redirect}")
    return ", ".join(parts)


def tasks(result: StackResult) -> str:
    """Fargate desired tasks, scaling range and task size."""
    service = result.one(ECS_SERVICE)
    task = result.one(TASK_DEFINITION)
    (scaling,) = result.find(SCALING_TARGET)
    return (
        f"{_number(service.inputs['desiredCount'])} "
        f"(scales {_number(scaling.inputs['minCapacity'])}-"
        f"{_number(scaling.inputs['maxCapacity'])}), "
        f"{_number(task.inputs['cpu']) / 1024:g} vCPU / {_number(task.inputs['memory'])} MiB"
    )


def concurrency(result: StackResult) -> str:
    """The live function's reserved concurrency and memory."""
    alias = result.one(ALIAS)
    (function_urn,) = _deps(alias, "functionName")
    function = result.by_urn(function_urn)
    reserved = _number(function.inputs.get("reservedConcurrentExecutions", -1))
    return (f"{reserved} reserved" if reserved >= 0 else "unreserved") + (
        f", {_number(function.inputs['memorySize'])} MB"
    )


def throttle(result: StackResult) -> str:
    """The HTTP API stage's default throttle."""
    settings = result.one(STAGE).inputs.get("defaultRouteSettings") or {}
    return (
        f"{_number(settings['throttlingRateLimit'])} req/s, "
        f"burst {_number(settings['throttlingBurstLimit'])}"
    )


def database(result: StackResult) -> str:
    """RDS instance class and Multi-AZ."""
    instance = result.one(DATABASE)
    return f"{instance.inputs['instanceClass']}, " + (
        "Multi-AZ" if instance.inputs.get("multiAz") else "single-AZ"
    )


def backups(result: StackResult) -> str:
    """RDS backup retention and deletion protection."""
    instance = result.one(DATABASE)
    protection = "on" if instance.inputs.get("deletionProtection") else "off"
    return f"{_days(instance.inputs['backupRetentionPeriod'])}, deletion protection {protection}"


def redis(result: StackResult) -> str:
    """Redis nodes, node type and failover."""
    group = result.one(REDIS)
    failover = ", automatic failover" if group.inputs.get("automaticFailoverEnabled") else ""
    return f"{_number(group.inputs['numCacheClusters'])} x {group.inputs['nodeType']}{failover}"


def retention(result: StackResult) -> str:
    """The log groups' retention periods."""
    days = {_number(group.inputs["retentionInDays"]) for group in result.find(LOG_GROUP)}
    return ", ".join(_days(day) for day in sorted(days))


def flow_logs(result: StackResult) -> str:
    """Whether VPC flow logs are on."""
    return "on" if result.find(FLOW_LOG) else "off"


# (row title, the shape whose runs it reads, the fact) in table order.
ROWS: Final[tuple[tuple[str, str, Callable[[StackResult], str]], ...]] = (
    ("availability zones", "fargate", zones),
    ("NAT gateways", "fargate", nats),
    ("VPC endpoints", "fargate", endpoints),
    ("VPC flow logs", "fargate", flow_logs),
    ("ALB listeners (fargate)", "fargate", listeners),
    ("Fargate tasks (fargate)", "fargate", tasks),
    ("Lambda concurrency, memory (lambda)", "lambda", concurrency),
    ("HTTP API throttle (lambda)", "lambda", throttle),
    ("RDS PostgreSQL", "fargate", database),
    ("RDS backups", "fargate", backups),
    ("ElastiCache Redis nodes", "fargate", redis),
    ("log retention", "fargate", retention),
)


def render_table(runs: Mapping[tuple[str, str], StackResult]) -> str:
    """The dev/prod comparison as a Markdown table, every cell read from a mocked run."""
    lines = [
        "| | " + " | ".join(TABLE_STACKS) + " |",
        "| --- |" + " --- |" * len(TABLE_STACKS),
    ]
    for title, compute, fact in ROWS:
        values = [fact(runs[(stack, compute)]) for stack in TABLE_STACKS]
        lines.append(f"| {title} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"
