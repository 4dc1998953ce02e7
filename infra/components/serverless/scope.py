"""Where each step of the Lambda shape creates its resources: under the component, tagged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class Scope:
    """The component's name (every logical name's prefix), the component itself, the tags."""

    name: str
    component: pulumi.ComponentResource
    tags: Mapping[str, str]

    def opts(
        self,
        *,
        depends_on: Sequence[pulumi.Resource] | None = None,
        delete_before_replace: bool | None = None,
    ) -> pulumi.ResourceOptions:
        """Options for a child: parented to the component, so its URN stays under it."""
        return pulumi.ResourceOptions(
            parent=self.component,
            depends_on=depends_on,
            delete_before_replace=delete_before_replace,
        )
