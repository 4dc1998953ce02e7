"""Image policies (infra/policies/images.py): ECR and one CPU architecture.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest

from infra.policies import images
from infra.policies.resource_types import (
    T_ECR_LIFECYCLE,
    T_ECR_REPOSITORY,
    T_LAMBDA,
    T_TASK_DEFINITION,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DF,
    DL,
    PF,
    PL,
    Bad,
    assert_reported,
    on_props,
    set_path,
)

BAD: tuple[Bad, ...] = (
    Bad(
        "ecr-repository",
        DF,
        T_ECR_REPOSITORY,
        "repository",
        set_path("imageScanningConfiguration.scanOnPush", False),
        ("scan_on_push",),
    ),
    Bad(
        "ecr-repository",
        PL,
        T_ECR_REPOSITORY,
        "repository",
        set_path("imageTagMutability", "MUTABLE"),
        ("IMMUTABLE",),
    ),
    Bad(
        "single-cpu-architecture",
        DL,
        T_LAMBDA,
        "app-function",
        on_props(set_path("architectures", ["arm64"])),
        ("cpuArchitecture",),
    ),
    Bad(
        "single-cpu-architecture",
        PF,
        T_TASK_DEFINITION,
        "task",
        on_props(set_path("runtimePlatform.cpuArchitecture", "ARM64")),
        ("mixes",),
    ),
    Bad(
        "ecr-lifecycle-policy",
        DF,
        T_ECR_LIFECYCLE,
        "lifecycle",
        lambda r: r.property_dependencies.clear() or r.props.update(repository="other"),
        ("lifecycle policy",),
        reports="registry-repository",
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of images.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in images.SPECS}
