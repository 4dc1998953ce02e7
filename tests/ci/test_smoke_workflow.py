"""deploy.yml gates prod on the smoke test of dev, and smokes prod after its up.

The smoke step (scripts/smoke.py through ``make smoke``) runs in each up job
right after the Pulumi ``up`` step, against that stack's ``url`` and
``compute`` outputs, with the API token read from the stack's SSM parameter by
the job's own role (tests/ci/test_bootstrap_telemetry.py checks the role may
read it, and the preview role may not). up-prod needs up-dev, so prod is
deployed only when dev's smoke test passed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.ci.test_workflows import DEPLOY, jobs, load
from tests.infra.harness import build_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
PULUMI = "pulumi/actions@"
UP_JOBS = {"up-dev": "dev", "up-prod": "prod"}


def _steps(job: str) -> list[dict[str, Any]]:
    return list(jobs(DEPLOY)[job]["steps"])


def _index(steps: list[dict[str, Any]], predicate: Any) -> int:
    (found,) = [i for i, step in enumerate(steps) if predicate(step)]
    return found


def _smoke_step(steps: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    index = _index(steps, lambda s: "make smoke" in str(s.get("run", "")))
    return index, steps[index]


@pytest.mark.parametrize(("job", "stack"), UP_JOBS.items())
def test_each_up_job_smokes_its_stack_right_after_up(job: str, stack: str) -> None:
    """The smoke step follows the up step and reads that step's stack outputs."""
    steps = _steps(job)
    up = _index(steps, lambda s: str(s.get("uses", "")).startswith(PULUMI))
    assert steps[up]["id"] == "up"
    assert steps[up]["with"]["command"] == "up"
    assert steps[up]["with"]["stack-name"] == stack
    # Stack outputs become step outputs unless they are suppressed.
    assert str(steps[up]["with"].get("suppress-outputs", "false")).lower() == "false"
    index, smoke = _smoke_step(steps)
    assert index == up + 1
    env = smoke["env"]
    assert env["SMOKE_URL"] == "${{ steps.up.outputs.url }}"
    assert env["SMOKE_COMPUTE"] == "${{ steps.up.outputs.compute }}"


@pytest.mark.parametrize(("job", "stack"), UP_JOBS.items())
def test_the_smoke_token_comes_from_the_stacks_ssm_parameter(job: str, stack: str) -> None:
    """The step names exactly the stack's API token parameter; no token is in the
    workflow, and the run script carries values only through env (no ${{ }})."""
    _, smoke = _smoke_step(_steps(job))
    parameter = build_stack(stack, "fargate").outputs["ssmParameterNames"]["API_TOKEN"]
    assert smoke["env"]["SMOKE_TOKEN_PARAMETER"] == parameter
    assert "SMOKE_TOKEN" not in smoke["env"]
    assert "secrets." not in str(smoke)
    script = str(smoke["run"])
    assert "${{" not in script
    assert "TOKEN" not in script, "the token (or its variable) never reaches the command line"
    assert script == 'make smoke URL="$SMOKE_URL" SMOKE_ARGS="--shape $SMOKE_COMPUTE"'


def test_prod_is_deployed_only_after_the_dev_smoke_test_passed() -> None:
    """up-prod needs up-dev, whose last step is the smoke test, never skipped or
    allowed to fail; prod's own smoke step is not optional either."""
    all_jobs = jobs(DEPLOY)
    assert all_jobs["up-prod"]["needs"] == "up-dev"
    for job in UP_JOBS:
        steps = _steps(job)
        _, smoke = _smoke_step(steps)
        assert "continue-on-error" not in smoke
        assert "if" not in smoke, "a condition could skip the smoke test"
        assert "continue-on-error" not in all_jobs[job]
    dev_steps = _steps("up-dev")
    smoke_at = _smoke_step(dev_steps)[0]
    # After the smoke test only further gates may follow (the ECR scan findings).
    after = [str(step.get("run", "")) for step in dev_steps[smoke_at + 1 :]]
    assert all("scripts.ecr_findings" in run for run in after), after


def test_smoke_adds_no_permission() -> None:
    """Least privilege: the up jobs keep contents: read and id-token: write, nothing else."""
    for job in UP_JOBS:
        assert jobs(DEPLOY)[job]["permissions"] == {"contents": "read", "id-token": "write"}
    assert load(DEPLOY)["permissions"] == {}


def test_make_smoke_passes_the_url_as_an_argument_and_the_token_never() -> None:
    """The Makefile target: a `## ` help line, the URL in argv, no token variable."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    match = re.search(r"^smoke: .*## (.+)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert match, "the Makefile has no documented smoke target"
    recipe = match.group(2)
    assert '-m scripts.smoke "$(URL)"' in recipe
    # No make or shell expansion of a token variable (the usage line only names it).
    assert not re.search(r"\$[({]?\w*TOKEN", recipe)
