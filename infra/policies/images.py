"""Image guardrails: the ECR repository the image lives in and the CPU it is built for.

A10 (image build platform, ECS runtime platform and Lambda architectures
agree) and B5 (scan on push, immutable tags, a lifecycle policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

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
    T_DOCKER_IMAGE,
    T_ECR_LIFECYCLE,
    T_ECR_REPOSITORY,
    T_LAMBDA,
    T_TASK_DEFINITION,
)


@resource_check(T_ECR_REPOSITORY)
def _ecr(props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs) -> None:
    """B5 (the lifecycle policy is a stack check)."""
    if not (props.get("imageScanningConfiguration") or {}).get("scanOnPush"):
        fail("images are not scanned on push", "set image_scanning_configuration.scan_on_push=True")
    if props.get("imageTagMutability") != "IMMUTABLE":
        fail("tags are mutable", 'set image_tag_mutability="IMMUTABLE"')


@stack_check
def _ecr_lifecycle(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B5: every repository has a lifecycle policy."""
    for repository in view.of_type(T_ECR_REPOSITORY):
        if not view.referring(repository, "repository", T_ECR_LIFECYCLE):
            fail(
                repository,
                "has no lifecycle policy",
                "add an aws.ecr.LifecyclePolicy expiring untagged and old images",
            )


@stack_check
def _single_architecture(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A10: image build platform, ECS runtime platform and Lambda architectures agree."""
    found: list[tuple[PolicyResource, str]] = []
    for image in view.of_type(T_DOCKER_IMAGE):
        platform = str((image.props.get("build") or {}).get("platform") or "")
        found.append(
            (
                image,
                {"linux/amd64": "x86_64", "linux/arm64": "arm64"}.get(
                    platform, platform or "unset"
                ),
            )
        )
    for task in view.of_type(T_TASK_DEFINITION):
        arch = str((task.props.get("runtimePlatform") or {}).get("cpuArchitecture") or "unset")
        found.append((task, arch.lower()))
    for function in view.of_type(T_LAMBDA):
        for arch in as_list(function.props.get("architectures")) or ["x86_64"]:
            found.append((function, str(arch).lower()))
    architectures = {arch for _, arch in found}
    if len(architectures) > 1:
        for resource, arch in found:
            fail(
                resource,
                f"is built for {arch} while the stack mixes {', '.join(sorted(architectures))}",
                "derive every architecture from the one cpuArchitecture key",
            )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy("ecr-repository", "ECR: scan on push, immutable tags.", "B5", _ecr),
    stack_policy(
        "single-cpu-architecture",
        "Image, ECS runtime platform and Lambda share one CPU architecture.",
        "A10",
        _single_architecture,
    ),
    stack_policy(
        "ecr-lifecycle-policy", "Every ECR repository has a lifecycle policy.", "B5", _ecr_lifecycle
    ),
)
