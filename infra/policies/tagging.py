"""Tagging guardrail (C7): every taggable AWS resource carries project, stack and compute."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from infra.policies.base import (
    PROJECT,
    Fail,
    PolicySpec,
    resource_check,
    resource_policy,
)

REQUIRED_TAGS: Final = ("project", "stack", "compute")
COMPUTE_SHAPES: Final = ("fargate", "lambda")


@cache
def _taggable(resource_type: str) -> bool:
    """Whether the pulumi_aws class for ``resource_type`` takes ``tags`` (as tags.py assumes)."""
    try:
        _, module, kind = resource_type.split(":")
        package = module.split("/")[0]
        package = {"lambda": "lambda_"}.get(package, package)
        cls = getattr(importlib.import_module(f"pulumi_aws.{package}"), kind)
        return "tags" in inspect.signature(cls._internal_init).parameters
    except (ValueError, ImportError, AttributeError):
        return False


def _resource_tags(args: ResourceValidationArgs, fail: Fail, props: Mapping[str, Any]) -> None:
    """C7."""
    if not args.resource_type.startswith("aws:") or not _taggable(args.resource_type):
        return
    tags = props.get("tags") or {}
    missing = [key for key in REQUIRED_TAGS if not (isinstance(tags, Mapping) and tags.get(key))]
    if missing:
        fail(
            f"missing the tags {', '.join(missing)}",
            "build it after register_stack_tags (infra/tags.py) so the stack "
            "transformation tags it",
        )
        return
    if tags.get("project") != PROJECT:
        fail(f"tag project is {tags.get('project')!r}", f'tag project="{PROJECT}"')
    if tags.get("compute") not in COMPUTE_SHAPES:
        fail(f"tag compute is {tags.get('compute')!r}", "tag compute with fargate or lambda")


@resource_check()
def _tags(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """C7 on every resource type (the types without ``tags`` are skipped)."""
    _resource_tags(args, fail, props)


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "required-tags",
        "Every taggable AWS resource carries project, stack and compute tags.",
        "C7",
        _tags,
    ),
)
