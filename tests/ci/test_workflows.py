"""The GitHub workflows: schema-valid (offline), least privilege, no untrusted
input in shell, pinned actions, and the deploy order (INVARIANT B17, B11)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
ALL = [CI, DEPLOY]
SHA_PIN = re.compile(r"^[0-9a-f]{40}$")


class _GithubYamlLoader(yaml.SafeLoader):
    """YAML 1.2-style booleans: GitHub reads ``on:`` as a key, PyYAML as ``True``."""


_GithubYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_GithubYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def load(path: Path) -> dict[str, Any]:
    """Parse a workflow the way GitHub does (``on`` stays a string key)."""
    data = yaml.load(path.read_text(), Loader=_GithubYamlLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(data, dict)
    return data


def jobs(path: Path) -> dict[str, dict[str, Any]]:
    """The ``jobs`` mapping of a workflow."""
    result = load(path)["jobs"]
    assert isinstance(result, dict)
    return result


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """Steps of ``job`` that use ``action`` (owner/name, any ref)."""
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).split("@")[0] == action]


def github_workflow_schema() -> dict[str, Any]:
    """check-jsonschema's vendored GitHub workflow schema: no network needed."""
    text = (
        resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("github-workflows.json")
        .read_text()
    )
    schema = json.loads(text)
    assert isinstance(schema, dict)
    return schema


# --- schema -----------------------------------------------------------------


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_workflow_validates_against_the_vendored_schema(path: Path) -> None:
    """Both workflows are valid GitHub workflow documents."""
    schema = github_workflow_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(load(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_check_jsonschema_cli_accepts_both_workflows() -> None:
    """The same check through the CLI and its builtin schema name, as documented."""
    cli = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(cli), "--builtin-schema", "vendor.github-workflows", *map(str, ALL)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The validator is live: a job without runs-on and with a bogus key fails."""
    broken = load(CI)
    del broken["jobs"]["test"]["runs-on"]
    broken["jobs"]["test"]["permisions"] = {"contents": "read"}
    schema = github_workflow_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert list(validator.iter_errors(broken))


# --- permissions (B17, CKV2_GHA_1) -------------------------------------------

# The only write scopes any job may hold, and why.
ALLOWED_WRITES = {
    "id-token": "assume an AWS role through GitHub OIDC",
    "pull-requests": "post the preview as a PR comment",
}


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_workflow_and_job_declares_least_privilege_permissions(path: Path) -> None:
    """Top level and every job declare ``permissions``; no blanket grants."""
    workflow = load(path)
    assert "permissions" in workflow, f"{path.name}: no top-level permissions"
    top = workflow["permissions"]
    assert isinstance(top, dict), f"{path.name}: top-level permissions must be a mapping"
    assert all(v in {"read", "none"} for v in top.values()), f"{path.name}: writes at top level"
    for name, job in jobs(path).items():
        assert "permissions" in job, f"{path.name}:{name} declares no permissions"
        perms = job["permissions"]
        assert isinstance(perms, dict), f"{path.name}:{name}: {perms!r} is a blanket grant"
        for scope, level in perms.items():
            assert level in {"read", "write", "none"}, (name, scope, level)
            if level == "write":
                assert scope in ALLOWED_WRITES, f"{path.name}:{name} may not write {scope}"
    assert "write-all" not in path.read_text()
    assert "read-all" not in path.read_text()


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_id_token_write_only_where_aws_is_assumed(path: Path) -> None:
    """OIDC token minting only in jobs that configure AWS credentials, and vice versa."""
    for name, job in jobs(path).items():
        mints = job.get("permissions", {}).get("id-token") == "write"
        assumes = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
        assert mints == assumes, f"{path.name}:{name}: id-token={mints}, assumes AWS={assumes}"


def test_pull_requests_write_only_on_the_commenting_preview() -> None:
    """Only the preview job comments on PRs, so only it may write pull-requests."""
    for name, job in jobs(DEPLOY).items():
        writes = job.get("permissions", {}).get("pull-requests") == "write"
        comments = any(
            s.get("with", {}).get("comment-on-pr") is True
            for s in steps_using(job, "pulumi/actions")
        )
        assert writes == comments, name
    for name, job in jobs(CI).items():
        assert "pull-requests" not in job.get("permissions", {}), name


def test_aws_credentials_come_only_from_oidc_role_variables() -> None:
    """No long-lived keys: every credentials step assumes a role named by a variable."""
    found = 0
    for path in ALL:
        assert "AWS_ACCESS_KEY_ID" not in path.read_text()
        assert "AWS_SECRET_ACCESS_KEY" not in path.read_text()
        for job in jobs(path).values():
            for step in steps_using(job, "aws-actions/configure-aws-credentials"):
                found += 1
                inputs = step["with"]
                assert not {"aws-access-key-id", "aws-secret-access-key"} & set(inputs)
                assert re.fullmatch(
                    r"\$\{\{ vars(\.[A-Z_]+|\[matrix\.role\]) \}\}", inputs["role-to-assume"]
                )
    assert found == 3, "preview, up-dev and up-prod each assume a role"


# --- untrusted input (B17, CKV_GHA_2) ----------------------------------------


def _run_scripts(path: Path) -> list[tuple[str, str]]:
    workflow = load(path)
    scripts = []
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                scripts.append((name, str(step["run"])))
    return scripts


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_shell_script(path: Path) -> None:
    """``run:`` scripts contain no ``${{ … }}`` at all: values reach them via ``env:``."""
    scripts = _run_scripts(path)
    assert scripts, f"{path.name} has no run steps to check"
    for job, script in scripts:
        assert "${{" not in script, f"{path.name}:{job}: expression in run: {script!r}"
        for untrusted in ("github.event", "github.head_ref", "pull_request.title"):
            assert untrusted not in script, f"{path.name}:{job}: {untrusted} in run:"


# --- pinned actions ------------------------------------------------------------


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_third_party_actions_are_pinned_to_a_commit_with_a_version_comment(path: Path) -> None:
    """``uses: owner/repo@<40-hex sha> # vX…``: a moved tag cannot change what runs."""
    uses_lines = [line.strip() for line in path.read_text().splitlines() if "uses:" in line]
    assert uses_lines
    for line in uses_lines:
        target = line.split("uses:", 1)[1].strip()
        if target.startswith("./"):
            continue  # a workflow of this repository, pinned by the commit itself
        ref, _, comment = target.partition("#")
        _, _, sha = ref.strip().partition("@")
        assert SHA_PIN.match(sha), f"{path.name}: {line!r} is not pinned to a full commit SHA"
        assert re.match(r"^ ?v\d+", comment), f"{path.name}: {line!r} has no version comment"


# --- ci.yml ------------------------------------------------------------------------


def test_ci_runs_lint_and_tests_against_real_postgres_and_redis() -> None:
    """make lint and make test, with health-checked service containers and the CI env."""
    workflow = load(CI)
    assert set(workflow["on"]) == {"pull_request", "workflow_call"}
    assert workflow["env"]["UV_COMPILE_BYTECODE"] == "1"
    all_jobs = jobs(CI)
    runs = [s.get("run", "") for job in all_jobs.values() for s in job["steps"]]
    assert "make lint" in runs
    assert "make test" in runs
    assert "bash scripts/checkov.sh" in runs
    for job in all_jobs.values():
        assert steps_using(job, "astral-sh/setup-uv"), "uv comes from astral-sh/setup-uv"

    test_job = next(
        job for job in all_jobs.values() if any(s.get("run") == "make test" for s in job["steps"])
    )
    services = test_job["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for service in services.values():
        assert "--health-cmd" in service["options"], "service containers must be health-checked"
    env = test_job["env"]
    assert env["TEST_DATABASE_URL"] == (
        "postgresql+asyncpg://postgres:postgres@localhost:5432/fastapi_test"
    )
    assert env["TEST_REDIS_URL"] == "redis://localhost:6379/15"
    assert env["REQUIRE_SERVICES"] == "1"
    assert services["postgres"]["env"]["POSTGRES_DB"] == "fastapi_test"


# --- deploy.yml ----------------------------------------------------------------


def _pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = steps_using(job, "pulumi/actions")
    inputs: dict[str, Any] = step["with"]
    return inputs


def test_pull_requests_preview_dev_and_prod_with_the_policy_pack() -> None:
    """Preview on PRs for both stacks, policy pack on, result commented on the PR."""
    workflow = load(DEPLOY)
    assert workflow["on"]["pull_request"]["branches"] == ["main"]
    preview = jobs(DEPLOY)["preview"]
    assert "pull_request" in preview["if"]
    stacks = {entry["stack"] for entry in preview["strategy"]["matrix"]["include"]}
    assert stacks == {"dev", "prod"}
    step = _pulumi_step(preview)
    assert step["command"] == "preview"
    assert step["stack-name"] == "${{ matrix.stack }}"
    assert step["policyPacks"] == "policy"
    assert step["comment-on-pr"] is True
    assert step["work-dir"] == "."
    assert "environment" not in preview, "the preview role trusts the pull_request subject"


def test_main_deploys_dev_then_prod_behind_the_production_environment() -> None:
    """up dev after CI passes; up prod only after up dev, in the gated environment."""
    workflow = load(DEPLOY)
    assert workflow["on"]["push"]["branches"] == ["main"]
    all_jobs = jobs(DEPLOY)
    ci = all_jobs["ci"]
    assert ci["uses"] == "./.github/workflows/ci.yml"

    up_dev, up_prod = all_jobs["up-dev"], all_jobs["up-prod"]
    assert up_dev["needs"] == "ci"
    assert up_prod["needs"] == "up-dev"
    assert up_dev["environment"] == "dev"
    assert up_prod["environment"] == "production"
    for job, stack, role in ((up_dev, "dev", "DEV"), (up_prod, "prod", "PROD")):
        assert "refs/heads/main" in job["if"]
        assert "push" in job["if"]
        step = _pulumi_step(job)
        assert step["command"] == "up"
        assert step["stack-name"] == stack
        assert step["policyPacks"] == "policy"
        (creds,) = steps_using(job, "aws-actions/configure-aws-credentials")
        assert creds["with"]["role-to-assume"] == f"${{{{ vars.AWS_DEPLOY_ROLE_ARN_{role} }}}}"


def test_two_deploys_of_one_stack_never_overlap() -> None:
    """Each up job holds its stack's concurrency group and never cancels a running one."""
    groups = {}
    for name in ("up-dev", "up-prod"):
        concurrency = jobs(DEPLOY)[name]["concurrency"]
        assert concurrency["cancel-in-progress"] is False
        groups[name] = concurrency["group"]
    assert "dev" in groups["up-dev"]
    assert "prod" in groups["up-prod"]
    assert groups["up-dev"] != groups["up-prod"]
    preview_group = jobs(DEPLOY)["preview"]["concurrency"]["group"]
    assert preview_group not in groups.values(), "a preview must never displace a queued deploy"


def test_secrets_reach_only_the_pulumi_step() -> None:
    """Pulumi tokens are not in the workflow or job env, where every step would see them."""
    workflow = load(DEPLOY)
    assert not any("secrets." in str(v) for v in workflow.get("env", {}).values())
    for name, job in jobs(DEPLOY).items():
        assert not any("secrets." in str(v) for v in job.get("env", {}).values()), name
        for step in job.get("steps", []):
            if "secrets." in json.dumps(step):
                assert str(step.get("uses", "")).startswith("pulumi/actions@"), (name, step)
