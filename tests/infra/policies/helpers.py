"""What the policy tests share: engine-shaped args, the broken-resource cases and their runner.

The args objects are built from the mocks harness's records the way the
engine builds them: resource policies see inputs, stack policies see outputs
plus dependencies and property dependencies, all wrapped in the engine's
read-only proxies. Each test module lists its ``Bad`` cases (a real resource
broken one way) and hands them to ``assert_reported``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from infra.policies import SPECS
from infra.policies.resource_types import T_SSM_PARAMETER
from tests.infra.conftest import BuildStack
from tests.infra.harness import ResourceRecord, StackResult

Props = dict[str, Any]

DF, PF, DL, PL = ("dev", "fargate"), ("prod", "fargate"), ("dev", "lambda"), ("prod", "lambda")

# ------------------------------------------------------------ engine-shaped args


def policy_config(result: StackResult) -> dict[str, Any]:
    """What a stack's policy config says: its ``production`` flag (read by prod-only rules)."""
    return {"production": result.config.get("fastapi-on-aws:production") == "true"}


def default_provider(result: StackResult) -> PolicyProviderResource:
    """The default AWS provider as the engine describes it: the stack's aws: config."""
    props = {
        key.partition(":")[2]: value
        for key, value in result.config.items()
        if key.startswith("aws:")
    }
    urn = f"urn:pulumi:{result.stack}::fastapi-on-aws::pulumi:providers:aws::default"
    return PolicyProviderResource("pulumi:providers:aws", props, urn, "default")


def _options(record: ResourceRecord) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record.protect,
        ignore_changes=list(record.ignore_changes),
        delete_before_replace=record.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(record.additional_secret_outputs),
        parent=record.parent,
    )


def resource_args(
    result: StackResult,
    record: ResourceRecord,
    props: Mapping[str, Any] | None = None,
    *,
    protect: bool | None = None,
    provider: PolicyProviderResource | None = None,
) -> ResourceValidationArgs:
    """What the engine hands a resource policy for ``record`` (inputs, options, provider)."""
    options = _options(record)
    if protect is not None:
        options.protect = protect
    return ResourceValidationArgs(
        record.type,
        # The engine wraps props in read-only Mapping/Sequence proxies, not dicts/lists.
        unknown_checking_proxy(copy.deepcopy(dict(record.inputs if props is None else props))),
        record.urn,
        record.name,
        options,
        provider or (default_provider(result) if record.type.startswith("aws:") else None),
        policy_config(result),
    )


def stack_resources(result: StackResult) -> list[PolicyResource]:
    """Every resource as a stack policy sees it: outputs, parent, dependencies."""
    by_urn: dict[str, PolicyResource] = {}
    for record in result.resources:
        by_urn[record.urn] = PolicyResource(
            record.type,
            copy.deepcopy(record.outputs),
            record.urn,
            record.name,
            _options(record),
            None,
            None,
            [],
            {},
        )
    for record in result.resources:
        resource = by_urn[record.urn]
        resource.parent = by_urn.get(record.parent or "")
        resource.dependencies.extend(by_urn[urn] for urn in record.depends_on if urn in by_urn)
        for key, urns in record.property_dependencies.items():
            resource.property_dependencies[key] = [by_urn[urn] for urn in urns if urn in by_urn]
    return list(by_urn.values())


def _as_engine_sends(resources: list[PolicyResource]) -> list[PolicyResource]:
    """A copy of ``resources`` whose props are the engine's read-only proxies."""
    clones = {
        resource.urn: PolicyResource(
            resource.resource_type,
            unknown_checking_proxy(copy.deepcopy(dict(resource.props))),
            resource.urn,
            resource.name,
            resource.opts,
            None,
            None,
            [],
            {},
        )
        for resource in resources
    }
    for resource in resources:
        clone = clones[resource.urn]
        clone.parent = clones.get(resource.parent.urn) if resource.parent else None
        clone.dependencies.extend(clones[d.urn] for d in resource.dependencies)
        for key, deps in resource.property_dependencies.items():
            clone.property_dependencies[key] = [clones[d.urn] for d in deps]
    return list(clones.values())


def stack_args(
    result: StackResult, resources: list[PolicyResource] | None = None
) -> StackValidationArgs:
    """What the engine hands a stack policy (``resources`` stay editable; the copy is not)."""
    raw = resources if resources is not None else stack_resources(result)
    return StackValidationArgs(_as_engine_sends(raw), policy_config(result))


def run_policy(
    policy: ResourceValidationPolicy | StackValidationPolicy,
    args: ResourceValidationArgs | StackValidationArgs,
) -> list[str]:
    """Call a policy's ``validate`` and return the messages it reported."""
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        del urn
        messages.append(message)

    outcome = policy.validate(args, report)  # type: ignore[arg-type]
    assert outcome is None, "policies are synchronous: nothing to await"
    return messages


def all_violations(result: StackResult) -> list[str]:
    """Run every policy of the pack over a whole stack."""
    found: list[str] = []
    stack = stack_args(result)
    for spec in SPECS:
        policy = spec.policy
        if isinstance(policy, StackValidationPolicy):
            found += [f"[{spec.name}] {m}" for m in run_policy(policy, stack)]
            continue
        for record in result.resources:
            args = resource_args(result, record)
            found += [f"[{spec.name}] {m}" for m in run_policy(policy, args)]
    return found


def spec_named(name: str) -> ResourceValidationPolicy | StackValidationPolicy:
    """The pack's policy called ``name``."""
    return next(spec.policy for spec in SPECS if spec.name == name)


# ------------------------------------------------------------ broken resources


@dataclass(frozen=True)
class Bad:
    """One deliberately broken resource and what the policy must say about it."""

    policy: str
    variant: tuple[str, str]
    type_: str
    name_suffix: str
    # Resource policies: mutate the inputs. Stack policies: mutate the record's
    # PolicyResource (props, dependencies) inside the whole stack.
    mutate: Callable[[Any], None]
    expect: tuple[str, ...]
    protect: bool | None = None
    no_accounts: bool = False
    # The resource the message must name, when it is not the edited one.
    reports: str | None = None

    @property
    def id(self) -> str:
        """Test id."""
        return f"{self.policy}:{self.expect[0][:40]}"


DELETE = object()

# The stack a stack-policy mutation runs in, for mutations that need other
# resources of it (a public subnet, the migrate function, a secret value).
CURRENT_RESOURCES: list[PolicyResource] = []
CURRENT_SECRET: list[str] = [""]


def set_path(path: str, value: object) -> Callable[[Props], None]:
    """Set (or, with ``DELETE``, drop) a dotted path (list indexes as digits) in a props dict."""

    def mutate(props: Props) -> None:
        keys = path.split(".")
        node: Any = props
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        last = keys[-1]
        if value is DELETE:
            node.pop(last, None)
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def on_props(change: Callable[[Props], None]) -> Callable[[PolicyResource], None]:
    """A stack-policy mutation that edits one resource's outputs."""

    def mutate(resource: PolicyResource) -> None:
        change(resource.props)  # type: ignore[arg-type]

    return mutate


def drop_dependency(type_: str, key: str | None = None) -> Callable[[PolicyResource], None]:
    """A stack-policy mutation that forgets the resource's dependencies on ``type_``."""

    def mutate(resource: PolicyResource) -> None:
        resource.dependencies[:] = [d for d in resource.dependencies if d.resource_type != type_]
        for prop, deps in resource.property_dependencies.items():
            if key is None or prop == key:
                deps[:] = [d for d in deps if d.resource_type != type_]

    return mutate


def both(*steps: Callable[[Any], None]) -> Callable[[Any], None]:
    """Several mutations, in order."""

    def mutate(target: Any) -> None:
        for step in steps:
            step(target)

    return mutate


def assert_reported(build_stack: BuildStack, bad: Bad) -> None:
    """The unbroken resource passes; the broken one is reported by name, with the fix.

    No message carries a secret value of the stack.
    """
    stack, compute = bad.variant
    result = build_stack(stack, compute=compute)
    record = result.one(bad.type_, bad.name_suffix)
    policy = spec_named(bad.policy)
    if isinstance(policy, ResourceValidationPolicy):
        props = copy.deepcopy(record.inputs)
        bad.mutate(props)
        provider = default_provider(result)
        if bad.no_accounts:
            provider.props = {k: v for k, v in provider.props.items() if k != "allowedAccountIds"}
        args = resource_args(result, record, props, protect=bad.protect, provider=provider)
        clean = resource_args(result, record, protect=None)
        assert run_policy(policy, clean) == [], "the unbroken resource passes"
        messages = run_policy(policy, args)
    else:
        resources = stack_resources(result)
        CURRENT_RESOURCES[:] = resources
        CURRENT_SECRET[0] = next(str(r.outputs["value"]) for r in result.find(T_SSM_PARAMETER))
        assert run_policy(policy, stack_args(result, resources)) == []
        target = next(r for r in resources if r.urn == record.urn)
        bad.mutate(target)
        messages = run_policy(policy, stack_args(result, resources))
    assert messages, f"{bad.policy} did not report {record.name}"
    named = record.name if bad.reports is None else bad.reports
    assert any(named in m for m in messages), messages
    assert all("Fix:" in m for m in messages), messages
    for expected in bad.expect:
        assert any(expected in m for m in messages), (expected, messages)
    secrets = set(result.secret_values)
    assert not any(secret in m for m in messages for secret in secrets), "a message leaked a secret"
