"""deploy.yml across a deploy's lifecycle: `up` refreshes before it updates, pull
request previews do not refresh (and why), and previews can build the image.

The roles' documents are checked with the IAM evaluator of test_bootstrap.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import yaml

from bootstrap.documents import APP_PARAMETER_PREFIX, preview_role_policy
from infra.config import CpuArchitecture
from tests.ci.test_bootstrap import (
    ACCOUNT,
    STATE_BUCKET_ARN,
    STATE_KEY_ARN,
    Request,
    _stack_resource_types,
    evaluate,
)
from tests.ci.test_workflows import DEPLOY, jobs, steps_using

ROOT = Path(__file__).resolve().parents[2]
PROJECT_CONFIG_PREFIX = "fastapi-on-aws:"
# Inputs of pulumi/actions at the pinned commit c7fad9e2 (v6.0.0), from its
# action.yml: a misspelt input is ignored by the runner with only a warning.
PULUMI_ACTIONS_V6_INPUTS = frozenset(
    {
        "command",
        "stack-name",
        "pulumi-version",
        "pulumi-version-file",
        "work-dir",
        "comment-on-pr",
        "comment-on-pr-number",
        "comment-on-summary",
        "github-token",
        "cloud-url",
        "secrets-provider",
        "parallel",
        "message",
        "config-map",
        "expect-no-changes",
        "diff",
        "replace",
        "target",
        "target-dependents",
        "policyPacks",
        "policyPackConfigs",
        "refresh",
        "upsert",
        "remove",
        "edit-pr-comment",
        "color",
        "exclude-protected",
        "plan",
        "suppress-outputs",
        "suppress-progress",
        "always-include-summary",
    }
)
# cpuArchitecture -> docker build --platform (infra/config.py, docker_platform).
DOCKER_PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
# GitHub-hosted Ubuntu images: `ubuntu-24.04` is x86_64, `ubuntu-24.04-arm` arm64.
HOSTED_UBUNTU = re.compile(r"^ubuntu-(?:\d+\.\d+|latest)(?P<arm>-arm)?$")


def _pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = steps_using(job, "pulumi/actions")
    assert steps, "the job runs no pulumi/actions step"
    return steps


def _preview_job() -> dict[str, Any]:
    return jobs(DEPLOY)["preview"]


def _up_jobs() -> dict[str, dict[str, Any]]:
    up = {
        name: job
        for name, job in jobs(DEPLOY).items()
        if any(s["with"]["command"] == "up" for s in steps_using(job, "pulumi/actions"))
    }
    assert set(up) == {"up-dev", "up-prod"}
    return up


def test_pulumi_steps_use_only_inputs_the_pinned_action_has() -> None:
    """`refresh` and every other input is spelt as pulumi/actions v6 declares it."""
    for name, job in jobs(DEPLOY).items():
        for step in steps_using(job, "pulumi/actions"):
            unknown = sorted(set(step["with"]) - PULUMI_ACTIONS_V6_INPUTS)
            assert not unknown, f"{name}: pulumi/actions has no input {unknown}"


def test_up_refreshes_the_state_before_it_updates() -> None:
    """After an ECS circuit-breaker rollback the state names a task definition ECS
    is not running; `up` with refresh reads the real service first and diffs
    against that, so the next deploy converges instead of trusting stale state."""
    for name, job in _up_jobs().items():
        for step in _pulumi_steps(job):
            assert step["with"].get("refresh") is True, f"{name}: pulumi up without refresh"


def test_previews_do_not_refresh_because_the_preview_role_reads_no_secret() -> None:
    """A refresh reads every resource back, among them SSM parameters
    (ssm:GetParameter) and Secrets Manager versions (GetSecretValue), which the
    preview role is explicitly denied: a refreshing preview would fail. Should
    the preview ever refresh, this test makes that conflict visible."""
    for step in _pulumi_steps(_preview_job()):
        assert step["with"].get("refresh", False) is False, "the preview must not refresh"
    types = _stack_resource_types()
    reads = {
        "aws:ssm/parameter:Parameter": Request(
            "ssm:GetParameter",
            f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter{APP_PARAMETER_PREFIX}dev/api-token",
        ),
        "aws:secretsmanager/secretVersion:SecretVersion": Request(
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:fastapi-on-aws-db-AbCdEf",
        ),
    }
    document = preview_role_policy(state_bucket_arn=STATE_BUCKET_ARN, state_key_arn=STATE_KEY_ARN)
    conflicts = [t for t, read in reads.items() if t in types]
    assert conflicts, "the stack no longer holds secrets: reconsider refreshing previews"
    for type_ in conflicts:
        assert evaluate(reads[type_], document) == "ExplicitDeny", type_


def _stack_architecture(stack: str) -> str:
    """cpuArchitecture of a stack: its Pulumi.<stack>.yaml, else the project default."""
    stack_file = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    value = (stack_file.get("config") or {}).get(f"{PROJECT_CONFIG_PREFIX}cpuArchitecture")
    if value is None:
        project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
        value = project["config"]["cpuArchitecture"]["default"]
    assert value in DOCKER_PLATFORMS, value
    return str(value)


def test_preview_runner_can_build_each_stacks_image() -> None:
    """pulumi-docker builds on the runner's Docker daemon (BuildKit through the
    Engine API, not the buildx CLI). A platform other than the runner's own needs
    QEMU (docker/setup-qemu-action) before the Pulumi step; today every stack
    builds linux/amd64 on an x86_64 runner, so none is set up."""
    assert set(DOCKER_PLATFORMS) == set(get_args(CpuArchitecture))
    for name, job in {"preview": _preview_job(), **_up_jobs()}.items():
        runner = HOSTED_UBUNTU.match(str(job["runs-on"]))
        assert runner, f"{name}: {job['runs-on']!r} is not a GitHub-hosted Ubuntu image"
        native = "linux/arm64" if runner["arm"] else "linux/amd64"
        if name == "preview":
            stacks = [entry["stack"] for entry in job["strategy"]["matrix"]["include"]]
        else:
            stacks = [step["with"]["stack-name"] for step in _pulumi_steps(job)]
        platforms = {DOCKER_PLATFORMS[_stack_architecture(stack)] for stack in stacks}
        assert platforms, name
        steps = job["steps"]
        pulumi_at = steps.index(_pulumi_steps(job)[0])
        qemu_before = any(
            str(s.get("uses", "")).startswith("docker/setup-qemu-action@")
            for s in steps[:pulumi_at]
        )
        foreign = sorted(platforms - {native})
        assert qemu_before or not foreign, f"{name}: builds {foreign} on {native} without QEMU"


def test_preview_step_has_the_checkout_and_aws_credentials_the_build_needs() -> None:
    """The build context is the checkout, and the program's ECR token invoke runs
    on preview too: both come before the Pulumi step."""
    steps = _preview_job()["steps"]
    pulumi_at = steps.index(_pulumi_steps(_preview_job())[0])
    before = [str(s.get("uses", "")).split("@")[0] for s in steps[:pulumi_at]]
    assert "actions/checkout" in before
    assert "aws-actions/configure-aws-credentials" in before


def test_preview_role_gets_the_ecr_token_but_cannot_push() -> None:
    """The preview build is never pushed (pulumi-docker returns after the local
    build on preview), so the preview role gets ECR's login token and no write."""
    document = preview_role_policy(state_bucket_arn=STATE_BUCKET_ARN, state_key_arn=STATE_KEY_ARN)
    # GetAuthorizationToken has no resource type: IAM evaluates it against "*".
    assert evaluate(Request("ecr:GetAuthorizationToken", "*"), document) == "Allow"
    repository = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/fastapi-on-aws-dev-registry"
    for action in (
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchDeleteImage",
    ):
        assert evaluate(Request(action, repository), document) != "Allow", action


def test_every_preview_builds_both_image_targets_before_it_plans() -> None:
    """Defect 9: the previews that change the build inputs are the ones pulumi-docker
    cannot build (the image name holds a nonce that is being replaced, unknown until
    `up`), so the preview job builds both Dockerfile targets itself, before the
    credentials step, and never pushes them."""
    steps = _preview_job()["steps"]
    pulumi_at = steps.index(_pulumi_steps(_preview_job())[0])
    credentials_at = next(
        i
        for i, step in enumerate(steps)
        if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
    )
    builds = [
        (i, line.split())
        for i, step in enumerate(steps)
        for line in str(step.get("run", "")).splitlines()
        if line.strip().startswith("docker build")
    ]
    targets = {words[words.index("--target") + 1] for _, words in builds if "--target" in words}
    assert targets == {"service", "lambda"}, f"preview builds {targets or 'no target'}"
    for index, words in builds:
        assert index < credentials_at < pulumi_at, "build before credentials and the plan"
        assert "--push" not in words, "a preview never pushes"
        assert words[-1] == ".", "the repository root is the build context"
