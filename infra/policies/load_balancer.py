"""Load-balancer guardrails: names that fit AWS, header and TLS hardening, HTTP redirects.

A14 (autonamed load balancer and target group names fit 32 characters) and B12
(drop invalid headers, no monitor-only desync mitigation, TLS 1.2+, port 80
only redirects once HTTPS is on). Access logs and deletion protection are
telemetry (``observability.py``, ``access_logs.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policies.base import (
    Fail,
    PolicySpec,
    StackFail,
    StackView,
    as_list,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_LISTENER,
    T_LOAD_BALANCER,
    T_TARGET_GROUP,
)

# AWS load balancer and target group names are at most 32 characters; the
# engine autonames ``<logical name>-<7 hex>``.
AWS_LB_NAME_LIMIT: Final = 32
AUTONAME_SUFFIX: Final = 8
# ELB policies that negotiate TLS 1.2 or later only.
TLS12_POLICY: Final = re.compile(r"^ELBSecurityPolicy-(TLS13-|TLS-1-2-|FS-1-2-)")


@resource_check(T_LOAD_BALANCER, T_TARGET_GROUP)
def _lb_name_length(
    props: Mapping[str, Any], name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A14: autonamed physical names must fit AWS's 32 characters."""
    physical = props.get("name")
    length = (
        len(physical) if isinstance(physical, str) and physical else len(name) + AUTONAME_SUFFIX
    )
    if length > AWS_LB_NAME_LIMIT:
        fail(
            f"its physical name would be {length} characters (AWS allows {AWS_LB_NAME_LIMIT})",
            f"shorten the logical name to at most {AWS_LB_NAME_LIMIT - AUTONAME_SUFFIX} characters",
        )


@resource_check(T_LOAD_BALANCER, T_LISTENER)
def _alb(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """B12 (the HTTP-redirect half is a stack check)."""
    if args.resource_type == T_LOAD_BALANCER:
        if props.get("dropInvalidHeaderFields") is not True:
            fail("invalid header fields are forwarded", "set drop_invalid_header_fields=True")
        if props.get("desyncMitigationMode") == "monitor":
            fail('desync mitigation is "monitor"', 'use "defensive" or "strictest"')
    elif props.get("protocol") == "HTTPS" and not TLS12_POLICY.match(
        str(props.get("sslPolicy") or "")
    ):
        fail(
            f"SSL policy {props.get('sslPolicy')!r} allows TLS below 1.2",
            'set ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06"',
        )


@stack_check
def _http_redirects(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B12: with an HTTPS listener, port 80 only redirects."""
    listeners = view.of_type(T_LISTENER)
    for lb in view.of_type(T_LOAD_BALANCER):
        own = [
            listener
            for listener in listeners
            if lb in view.refs(listener, "loadBalancerArn")
            or any(ref.urn == lb.urn for ref in view.refs(listener, "loadBalancerArn"))
        ]
        if not any(listener.props.get("protocol") == "HTTPS" for listener in own):
            continue
        for listener in own:
            if listener.props.get("protocol") != "HTTP":
                continue
            actions = [
                action
                for action in as_list(listener.props.get("defaultActions"))
                if isinstance(action, Mapping)
            ]
            if not actions or any(
                action.get("type") != "redirect"
                or (action.get("redirect") or {}).get("protocol") != "HTTPS"
                for action in actions
            ):
                fail(
                    listener,
                    "serves plain HTTP although the ALB has HTTPS",
                    "make the port 80 listener redirect to HTTPS (HTTP_301)",
                )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "load-balancer-name-length",
        "Load balancer and target group names fit AWS's 32 characters.",
        "A14",
        _lb_name_length,
    ),
    resource_policy(
        "alb-hardening",
        "ALB drops invalid headers, no monitor-only desync mitigation, HTTPS on TLS 1.2+.",
        "B12",
        _alb,
    ),
    stack_policy(
        "https-redirects-http",
        "With HTTPS, the ALB's port 80 only redirects.",
        "B12",
        _http_redirects,
    ),
)
