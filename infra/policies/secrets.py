"""Secret guardrails: SSM SecureStrings, generated passwords, no plaintext, the proxy secret.

A8 (generated passwords use characters RDS and ElastiCache accept), B7 (no
secret value in an environment or container definition), B8 (SecureString
parameters) and C8 (the proxy's secret follows the database's generated
password, with no rotation of its own). ``secret_like`` and
``password_problem`` are shared with the compute and data policies.
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
    as_json,
    iter_strings,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_LAMBDA,
    T_RANDOM_PASSWORD,
    T_RDS_INSTANCE,
    T_RDS_PROXY,
    T_SECRET,
    T_SECRET_ROTATION,
    T_SECRET_VERSION,
    T_SSM_PARAMETER,
    T_TASK_DEFINITION,
)

SECRET_NAME: Final = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL")
# Characters RDS (``/ @ " space``) and ElastiCache AUTH (``/ @ "`` and space,
# printable ASCII only) refuse in passwords.
FORBIDDEN_PASSWORD_CHARS: Final = frozenset('/@" ')


def secret_like(name: str) -> bool:
    """Whether an environment variable name looks like a secret (``*_SSM_PARAMETER`` never)."""
    return bool(SECRET_NAME.search(name.upper())) and not name.upper().endswith("_SSM_PARAMETER")


def password_problem(value: object) -> str | None:
    """What RDS or ElastiCache would refuse in a password, or None (never the value itself)."""
    if not isinstance(value, str):
        return None
    bad = sorted(set(value) & FORBIDDEN_PASSWORD_CHARS)
    if bad or any(not 32 < ord(char) < 127 for char in value):
        return 'contains characters AWS refuses (/ @ " space or non-printable)'
    return None


@resource_check(T_SSM_PARAMETER)
def _ssm(props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs) -> None:
    """B8."""
    if props.get("type") != "SecureString":
        fail(f"type is {props.get('type')!r}", 'set type="SecureString"')


@resource_check(T_RANDOM_PASSWORD)
def _random_password(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A8: generated passwords draw only from characters RDS and ElastiCache accept."""
    if props.get("special") is False:
        return
    specials = props.get("overrideSpecial")
    if not isinstance(specials, str) or not specials:
        fail(
            'uses the default special characters, which include / @ " and space',
            'set override_special to a safe set such as "-_.~"',
        )
    elif set(specials) & FORBIDDEN_PASSWORD_CHARS:
        fail('override_special contains / @ " or space', "remove them from override_special")


@stack_check
def _no_plaintext_secrets(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B7: no secret value in a function environment or container definition."""
    secrets = {
        str(value)
        for resource in view.of_type(T_SSM_PARAMETER, T_RANDOM_PASSWORD)
        for value in (resource.props.get("value"), resource.props.get("result"))
        if isinstance(value, str) and len(value) >= 8
    }
    carriers = [
        (function, (function.props.get("environment") or {}).get("variables"))
        for function in view.of_type(T_LAMBDA)
    ] + [
        (task, as_json(task.props.get("containerDefinitions")))
        for task in view.of_type(T_TASK_DEFINITION)
    ]
    for resource, document in carriers:
        if any(secret in text for text in iter_strings(document) for secret in secrets):
            fail(
                resource,
                "carries a secret value in plain text",
                "pass SSM parameter names (Lambda) or secrets[].valueFrom ARNs (ECS), never values",
            )


@stack_check
def _proxy_secret_follows_password(
    view: StackView, fail: StackFail, _args: StackValidationArgs
) -> None:
    """C8: the proxy's Secrets Manager secret is written from the same generated
    password as the database, so a revision bump rotates both in one deploy, and
    no Secrets Manager rotation changes it behind the program's back."""
    passwords = {
        dep.urn
        for instance in view.of_type(T_RDS_INSTANCE)
        for dep in view.refs(instance, "password", T_RANDOM_PASSWORD)
    }
    for proxy in view.of_type(T_RDS_PROXY):
        for secret in view.refs(proxy, "auths", T_SECRET):
            versions = view.referring(secret, "secretId", T_SECRET_VERSION)
            sources = {
                dep.urn
                for version in versions
                for dep in view.refs(version, "secretString", T_RANDOM_PASSWORD)
            }
            if not versions or not sources or not sources <= passwords:
                fail(
                    secret,
                    "the proxy's secret is not written from the database's generated password",
                    "set its SecretVersion from the same RandomPassword as the RDS instance "
                    "(databasePasswordRevision rotates both)",
                )
            for rotation in view.referring(secret, "secretId", T_SECRET_ROTATION):
                fail(
                    rotation,
                    "rotates the proxy's secret apart from the database password in state",
                    "rotate with databasePasswordRevision instead (docs/runbook.md)",
                )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy("ssm-secure-string", "SSM parameters are SecureString.", "B8", _ssm),
    resource_policy(
        "generated-password-charset",
        "Generated passwords use only characters RDS and ElastiCache accept.",
        "A8",
        _random_password,
    ),
    stack_policy(
        "no-plaintext-secrets",
        "No secret value in a function environment or container definition.",
        "B7",
        _no_plaintext_secrets,
    ),
    stack_policy(
        "proxy-secret-follows-password",
        "The proxy's secret is written from the database's generated password; no rotation.",
        "C8",
        _proxy_secret_follows_password,
    ),
)
