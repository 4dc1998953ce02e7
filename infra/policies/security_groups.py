"""Security-group guardrails: descriptions, world ingress and group-to-group rules.

B1 (only the internet-facing ALB admits the world, on 80/443), B2 (every other
group admits only security groups, on its one port), B3 (descriptions on every
group and rule; rules as separate resources).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from infra.policies.base import (
    CONTAINER_PORT,
    Fail,
    PolicySpec,
    StackFail,
    StackView,
    as_list,
    iter_strings,
    number,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_ECS_SERVICE,
    T_EGRESS_RULE,
    T_INGRESS_RULE,
    T_LAMBDA,
    T_LOAD_BALANCER,
    T_RDS_INSTANCE,
    T_RDS_PROXY,
    T_REDIS,
    T_SECURITY_GROUP,
    T_SG_RULE,
)

POSTGRES_PORT: Final = 5432
REDIS_PORT: Final = 6379


@resource_check(T_SECURITY_GROUP, T_INGRESS_RULE, T_EGRESS_RULE, T_SG_RULE)
def _sg_descriptions(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B3: descriptions everywhere, and no inline rules (this project uses rule resources)."""
    description = str(props.get("description") or "")
    if not description or description == "Managed by Pulumi":
        fail("no description", "say what the group or rule admits and why")
    if args.resource_type == T_SECURITY_GROUP:
        for direction in ("ingress", "egress"):
            if as_list(props.get(direction)):
                fail(
                    f"inline {direction} rules",
                    "use separate aws.vpc.SecurityGroupIngressRule/EgressRule resources "
                    "(inline and separate rules must never be mixed)",
                )


def _ingress_rules(
    view: StackView,
) -> Iterator[tuple[PolicyResource, PolicyResource | None, Mapping[str, Any]]]:
    """(rule resource, target security group, rule props) for every ingress rule."""
    for rule in view.of_type(T_INGRESS_RULE):
        groups = view.refs(rule, "securityGroupId", T_SECURITY_GROUP)
        yield rule, groups[0] if groups else None, rule.props
    for rule in view.of_type(T_SG_RULE):
        if rule.props.get("type") == "ingress":
            groups = view.refs(rule, "securityGroupId", T_SECURITY_GROUP)
            yield rule, groups[0] if groups else None, rule.props
    for group in view.of_type(T_SECURITY_GROUP):
        for inline in as_list(group.props.get("ingress")):
            if isinstance(inline, Mapping):
                yield group, group, inline


def _world_open(rule: Mapping[str, Any]) -> bool:
    cidrs = set(
        iter_strings(
            [rule.get(key) for key in ("cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks")]
        )
    )
    return bool(cidrs & {"0.0.0.0/0", "::/0"})


@stack_check
def _world_ingress(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B1: only an internet-facing ALB is open to the world, on 80/443."""
    alb_groups = {
        group.urn
        for lb in view.of_type(T_LOAD_BALANCER)
        if not lb.props.get("internal")
        for group in view.refs(lb, "securityGroups", T_SECURITY_GROUP)
    }
    for rule, group, props in _ingress_rules(view):
        if not _world_open(props):
            continue
        ports = (number(props.get("fromPort")), number(props.get("toPort")))
        if group is None or group.urn not in alb_groups or ports not in ((80, 80), (443, 443)):
            fail(
                rule,
                "admits the whole internet",
                "admit 0.0.0.0/0 only to the ALB's group on 80 or 443; "
                "everything else from security groups",
            )


def _service_port(service: PolicyResource) -> float | None:
    """The container port an ECS service's load balancer sends to (default the app's)."""
    return next(
        (
            number(lb.get("containerPort"))
            for lb in as_list(service.props.get("loadBalancers"))
            if isinstance(lb, Mapping)
        ),
        CONTAINER_PORT,
    )


def _guarded_groups(view: StackView) -> dict[str, tuple[PolicyResource, float | None]]:
    """Security group URN -> (the resource it guards, the one port it serves, None if none)."""
    ports: dict[str, tuple[PolicyResource, float | None]] = {}

    def own(
        resources: Iterable[PolicyResource],
        key: str,
        port: Callable[[PolicyResource], float | None],
    ) -> None:
        for resource in resources:
            for group in view.refs(resource, key, T_SECURITY_GROUP):
                ports[group.urn] = (resource, port(resource))

    own(view.of_type(T_ECS_SERVICE), "networkConfiguration", _service_port)
    own(view.of_type(T_LAMBDA), "vpcConfig", lambda _f: None)
    own(
        view.of_type(T_RDS_INSTANCE),
        "vpcSecurityGroupIds",
        lambda db: number(db.props.get("port")) or POSTGRES_PORT,
    )
    own(
        view.of_type(T_REDIS),
        "securityGroupIds",
        lambda redis: number(redis.props.get("port")) or REDIS_PORT,
    )
    own(view.of_type(T_RDS_PROXY), "vpcSecurityGroupIds", lambda _p: POSTGRES_PORT)
    return ports


@stack_check
def _sg_to_sg(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B2: task, function, RDS, Redis and Proxy groups admit only other groups on their port."""
    ports = _guarded_groups(view)
    for rule, group, props in _ingress_rules(view):
        if group is None or group.urn not in ports:
            continue
        owner, port = ports[group.urn]
        from_sg = (
            props.get("referencedSecurityGroupId")
            or props.get("sourceSecurityGroupId")
            or props.get("securityGroups")
        )
        if (
            not from_sg
            or _world_open(props)
            or props.get("cidrIpv4")
            or props.get("cidrBlocks")
            or props.get("prefixListId")
        ):
            fail(
                rule,
                f"admits addresses, not a security group, into {owner.name}",
                "admit only the calling component's security group (referenced_security_group_id)",
            )
        if port is None:
            fail(
                rule,
                f"admits traffic into {owner.name}, which serves no inbound port",
                "remove the rule",
            )
        elif (number(props.get("fromPort")), number(props.get("toPort"))) != (port, port):
            fail(
                rule,
                f"opens ports {props.get('fromPort')}-{props.get('toPort')} on {owner.name}",
                f"open only port {port:g}",
            )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "security-group-descriptions",
        "Every security group and rule has a description; rules are separate resources.",
        "B3",
        _sg_descriptions,
    ),
    stack_policy(
        "world-ingress-only-to-alb",
        "Only the internet-facing ALB admits 0.0.0.0/0 or ::/0, on 80/443.",
        "B1",
        _world_ingress,
    ),
    stack_policy(
        "ingress-from-security-groups",
        "Task, function, RDS, Redis and Proxy groups admit only security groups on their port.",
        "B2",
        _sg_to_sg,
    ),
)
