"""Deploy-safety guardrails: replacements that cannot collide, the right AWS account.

C2 (an explicit physical name only with ``delete_before_replace``, so a
create-before-delete replacement never meets its old self) and C5 (prod: the
AWS provider refuses any account but the configured ones).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from infra.policies.base import (
    Fail,
    PolicySpec,
    as_json,
    as_list,
    is_production,
    resource_check,
    resource_policy,
)
from infra.policies.resource_types import (
    T_API_STAGE,
    T_RDS_INSTANCE,
    T_REDIS,
    T_S3_BUCKET,
)


def _autonamed(value: object, logical_name: str) -> bool:
    """Whether ``value`` is the engine's autoname ``<logical name>-<7 hex>``."""
    return (
        isinstance(value, str)
        and re.fullmatch(re.escape(logical_name) + r"-[0-9a-f]{7}", value) is not None
    )


# Input that holds a resource's explicit physical name, per type (default "name").
_PHYSICAL_NAME_KEYS: Final = {
    T_RDS_INSTANCE: "identifier",
    T_REDIS: "replicationGroupId",
    T_S3_BUCKET: "bucket",
}
# Names AWS mandates and scopes to a parent: the HTTP API's ``$default`` stage
# (A12) is replaced only with its API, so the new one never meets the old one.
_SCOPED_FIXED_NAMES: Final[Mapping[str, tuple[str, ...]]] = {T_API_STAGE: ("$default",)}


@resource_check()
def _explicit_names(
    props: Mapping[str, Any], name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """C2: a fixed physical name makes create-before-delete replacement collide."""
    if not args.resource_type.startswith("aws:"):
        return
    key = _PHYSICAL_NAME_KEYS.get(args.resource_type, "name")
    value = props.get(key)
    if not isinstance(value, str) or not value or _autonamed(value, name):
        return
    if value in _SCOPED_FIXED_NAMES.get(args.resource_type, ()):
        return
    if not args.opts.delete_before_replace:
        fail(
            f"has the explicit physical name {value!r} without delete_before_replace",
            "drop the explicit name (let Pulumi autoname it) or set delete_before_replace=True",
        )


@resource_check()
def _allowed_accounts(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """C5 (P): the AWS provider refuses any account but the configured ones."""
    if not args.resource_type.startswith("aws:") or not is_production(args.get_config()):
        return
    provider = args.provider
    if provider is None:
        return
    accounts = as_json(provider.props.get("allowedAccountIds"))
    if not as_list(accounts):
        fail(
            f"its AWS provider {provider.name!r} has no allowedAccountIds",
            "set aws:allowedAccountIds in Pulumi.prod.yaml",
        )
    del props


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "explicit-names-delete-before-replace",
        "Explicit physical names only with delete_before_replace.",
        "C2",
        _explicit_names,
    ),
    resource_policy(
        "allowed-account-ids",
        "Prod: the AWS provider is restricted to the configured accounts.",
        "C5",
        _allowed_accounts,
    ),
)
