"""What every guardrail module shares: property readers, the check decorators, the stack view.

A resource check is written as ``check(props, name, fail, args)`` and wrapped
with ``@resource_check(*types)``; a stack check as ``check(view, fail, args)``
wrapped with ``@stack_check``. ``fail(problem, fix)`` formats every message the
same way: ``<name> (<type>): <problem>. Fix: <fix>.`` ``resource_policy`` and
``stack_policy`` turn a check into a mandatory ``PolicySpec`` with the
INVARIANTS.md ids it covers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policies.resource_types import T_INTERNET_GATEWAY, T_ROUTE, T_RT_ASSOCIATION, T_SUBNET

PROJECT: Final = "fastapi-on-aws"
# docs/contracts.md: the container port (target group and task security group).
CONTAINER_PORT: Final = 8000

# ------------------------------------------------------------ property readers


def number(value: object) -> float | None:
    """Numbers arrive as floats (the engine's wire format) or, from config, as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_json(value: object) -> Any:
    """A JSON document property (policies, container definitions) as Python data."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def as_list(value: object) -> list[Any]:
    """A property as a list: ``None`` is empty, a single value is a one-item list."""
    if value is None:
        return []
    # The engine hands policies read-only Sequence/Mapping proxies, not lists.
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]


def postgres_parameters(props: Mapping[str, Any]) -> dict[str, str] | None:
    """A PostgreSQL parameter group's ``name -> value``; None for another engine's group."""
    if not str(props.get("family") or "").startswith("postgres"):
        return None
    return {
        str(item.get("name")): str(item.get("value"))
        for item in as_list(props.get("parameters"))
        if isinstance(item, Mapping)
    }


def iter_strings(value: object) -> Iterator[str]:
    """Every string anywhere inside a nested property value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for item in value:
            yield from iter_strings(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from iter_strings(item)


def policy_statements(document: object) -> list[Mapping[str, Any]]:
    """The statements of an IAM policy document (JSON string or parsed)."""
    parsed = as_json(document)
    if not isinstance(parsed, Mapping):
        return []
    return [item for item in as_list(parsed.get("Statement")) if isinstance(item, Mapping)]


def principals(principal: object) -> Iterator[tuple[str, str]]:
    """``(kind, value)`` pairs of a statement's ``Principal`` (``"*"`` is ``("AWS", "*")``)."""
    if principal == "*":
        yield ("AWS", "*")
    elif isinstance(principal, Mapping):
        for kind, values in principal.items():
            for value in as_list(values):
                yield (str(kind), str(value))


def _truthy_config(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def is_production(config: Mapping[str, Any]) -> bool:
    """Whether prod-only rules apply: the policy config's ``production``, else the stack's."""
    if "production" in config:
        return _truthy_config(config["production"])
    value = pulumi.Config(PROJECT).get("production")
    return _truthy_config(value) if value is not None else False


# ------------------------------------------------------------------ checks

Fail = Callable[[str, str], None]
StackFail = Callable[[PolicyResource | None, str, str], None]
# What pulumi-policy calls: validate(args, report).
ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]
# What a policy module writes: check(props, name, fail, args) and check(view, fail, args).
ResourceBody = Callable[[Mapping[str, Any], str, Fail, ResourceValidationArgs], None]
StackBody = Callable[["StackView", StackFail, StackValidationArgs], None]


def _label(name: str, resource_type: str) -> str:
    return f"{name} ({resource_type})"


def resource_check(*types: str) -> Callable[[ResourceBody], ResourceCheck]:
    """Run a check only on the given resource types, with a ``fail(problem, fix)`` helper."""

    def wrap(check: ResourceBody) -> ResourceCheck:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if types and args.resource_type not in types:
                return
            label = _label(args.name, args.resource_type)

            def fail(problem: str, fix: str) -> None:
                report(f"{label}: {problem}. Fix: {fix}.", None)

            check(args.props, args.name, fail, args)

        return validate

    return wrap


def stack_check(check: StackBody) -> StackCheck:
    """Give a stack check a ``StackView`` and a ``fail(resource, problem, fix)`` helper."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        def fail(resource: PolicyResource | None, problem: str, fix: str) -> None:
            if resource is None:
                report(f"stack: {problem}. Fix: {fix}.", None)
            else:
                label = _label(resource.name, resource.resource_type)
                report(f"{label}: {problem}. Fix: {fix}.", resource.urn)

        check(StackView(args.resources), fail, args)

    return validate


class StackView:
    """Index over a stack's resources, following references through dependencies."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = list(resources)

    def of_type(self, *types: str) -> list[PolicyResource]:
        """Resources of any of ``types``."""
        return [resource for resource in self.resources if resource.resource_type in types]

    def refs(self, resource: PolicyResource, key: str, *types: str) -> list[PolicyResource]:
        """The resources property ``key`` of ``resource`` refers to (optionally of ``types``).

        The engine records which resources each input came from; when it did not
        (older state), fall back to matching the property's values against
        other resources' ids, ARNs and names.
        """
        found = list(resource.property_dependencies.get(key) or [])
        if not found:
            values = set(iter_strings(resource.props.get(key)))
            if values:
                found = [
                    other
                    for other in self.resources
                    if other is not resource
                    and any(other.props.get(attr) in values for attr in ("id", "arn", "name"))
                ]
        return [item for item in found if not types or item.resource_type in types]

    def referring(self, target: PolicyResource, key: str, *types: str) -> list[PolicyResource]:
        """Resources of ``types`` whose property ``key`` refers to ``target``."""
        return [
            resource
            for resource in self.of_type(*types)
            if any(ref is target or ref.urn == target.urn for ref in self.refs(resource, key))
        ]

    def public_subnets(self) -> set[str]:
        """URNs of subnets whose route table sends traffic to an internet gateway."""
        public_tables: set[str] = set()
        for route in self.of_type(T_ROUTE):
            if self.refs(route, "gatewayId", T_INTERNET_GATEWAY) or str(
                route.props.get("gatewayId") or ""
            ).startswith("igw-"):
                public_tables.update(table.urn for table in self.refs(route, "routeTableId"))
        subnets: set[str] = set()
        for association in self.of_type(T_RT_ASSOCIATION):
            if any(table.urn in public_tables for table in self.refs(association, "routeTableId")):
                subnets.update(
                    subnet.urn for subnet in self.refs(association, "subnetId", T_SUBNET)
                )
        return subnets


# ---------------------------------------------------------------- policies


@dataclass(frozen=True)
class PolicySpec:
    """One policy and the INVARIANTS.md lines it covers."""

    policy: ResourceValidationPolicy | StackValidationPolicy
    invariants: tuple[str, ...]

    @property
    def name(self) -> str:
        """The policy's name (unique in the pack)."""
        return str(self.policy.name)


def resource_policy(
    name: str, description: str, invariants: str, validate: ResourceCheck
) -> PolicySpec:
    """A mandatory resource policy covering the space-separated ``invariants`` ids."""
    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    return PolicySpec(policy, tuple(invariants.split()))


def stack_policy(name: str, description: str, invariants: str, validate: StackCheck) -> PolicySpec:
    """A mandatory stack policy covering the space-separated ``invariants`` ids."""
    policy = StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    return PolicySpec(policy, tuple(invariants.split()))
