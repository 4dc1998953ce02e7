"""Stack-wide tagging (INVARIANT C7).

A stack transformation adds the ``project``, ``stack`` and ``compute`` tags to
every AWS resource whose constructor accepts ``tags``. It runs in the SDK,
before a resource is registered, so the tags are part of the inputs the
engine (or the test mocks) see, and the compute components written by others
are covered without having to remember anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import pulumi


def _merge(existing: object, required: Mapping[str, str]) -> object:
    """Merge the required tags over a resource's own tags (a mapping or an Output of one)."""
    if existing is None:
        return dict(required)
    if isinstance(existing, Mapping):
        return {**existing, **required}
    # An Output or awaitable of a mapping: merge once it is known.
    pending = cast(pulumi.Output[Mapping[str, str] | None], pulumi.Output.from_input(existing))
    return pending.apply(lambda value: {**(value or {}), **required})


def tag_transformation(
    required: Mapping[str, str],
) -> pulumi.ResourceTransformation:
    """A transformation that adds ``required`` to the tags of every taggable AWS resource."""
    frozen = dict(required)

    def transform(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        # Only AWS resources whose generated constructor has a ``tags`` map.
        if not args.type_.startswith("aws:") or "tags" not in args.props:
            return None
        existing = args.props["tags"]
        if existing is not None and isinstance(existing, (list, tuple)):
            # A list-shaped ``tags`` (autoscaling groups) has its own format.
            return None
        props = {**args.props, "tags": _merge(existing, frozen)}
        return pulumi.ResourceTransformationResult(props=props, opts=args.opts)

    return transform


def register_stack_tags(required: Mapping[str, str]) -> None:
    """Tag every resource created after this call (call it before building anything)."""
    pulumi.runtime.register_stack_transformation(tag_transformation(required))
