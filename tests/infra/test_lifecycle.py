"""The deploy lifecycle as sequences of deploys, diffed the way the engine diffs them.

Each run is the real program in a fresh interpreter (tests/infra/lifecycle.py),
from a checkout and working directory as the Pulumi CLI would use them, and
each step of a sequence continues from the previous step's state. A step's
diff is what `pulumi up` would do; the assertions say what a user relies on:

- the same commit from another checkout (another path, another umask, run from
  infra/ as the CLI runs it) changes nothing (defect 1);
- a service-code change rebuilds the image and rolls compute only;
- rotating a secret updates its data resource in place and rolls the compute
  that read it at start-up (C6; defect 8);
- the Redis AUTH rotation completes in two config-driven steps (defect 7);
- switching compute keeps every data URN: tests/infra/test_switch.py (C1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.components import secrets as secrets_component
from tests.infra.aws_models import input_members
from tests.infra.lifecycle import (
    ALL_VARIANTS,
    PROD_VARIANTS,
    Diff,
    diff_runs,
    docker_context_digest,
    is_excluded,
    make_checkout,
    record,
    run_fresh,
    under_component,
)

DATA_COMPONENTS = (
    "fastapi-on-aws:network:Network",
    "fastapi-on-aws:database:Database",
    "fastapi-on-aws:cache:Cache",
    "fastapi-on-aws:secrets:Secrets",
)
REGISTRY = "fastapi-on-aws:registry:Registry"
COMPUTE_COMPONENTS = {
    "fargate": "fastapi-on-aws:fargate:FargateService",
    "lambda": "fastapi-on-aws:serverless:ServerlessService",
}
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"
RDS = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
PARAMETER = "aws:ssm/parameter:Parameter"
PASSWORD = "random:index/randomPassword:RandomPassword"


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two checkouts of this tree at different paths, one made under umask 077."""
    base = tmp_path_factory.mktemp("checkouts")
    return {
        "laptop": make_checkout(base / "laptop" / "fastapi-on-aws"),
        "ci": make_checkout(base / "runner" / "work" / "repo", umask=0o077),
    }


@pytest.fixture(scope="module")
def baseline(checkouts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first deploy of every variant, from the laptop checkout, as the CLI runs it."""
    dump = tmp_path_factory.mktemp("runs") / "baseline.json"
    run_fresh(checkouts["laptop"], ALL_VARIANTS, dump=dump)
    return dump


@pytest.fixture(scope="module")
def from_ci(
    checkouts: dict[str, Path], baseline: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The second deploy: the same commit from the CI checkout (umask 077), from infra/."""
    dump = tmp_path_factory.mktemp("runs") / "ci.json"
    return run_fresh(checkouts["ci"], ALL_VARIANTS, prior=baseline, dump=dump)


def _runs(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _step(
    checkout: Path,
    prior: Path,
    tmp_path: Path,
    name: str,
    variants: tuple[str, ...] = PROD_VARIANTS,
    config: Mapping[str, object] | None = None,
) -> tuple[dict[str, Any], Path]:
    dump = tmp_path / f"{name}.json"
    return run_fresh(checkout, variants, prior=prior, config=config, dump=dump), dump


def _touches(diff: Diff, run: Mapping[str, Any], component: str) -> set[str]:
    return diff.changed & under_component(run, component)


# ------------------------------------------------------ another checkout (defect 1)


def test_the_same_commit_from_another_checkout_changes_nothing(
    baseline: Path, from_ci: dict[str, Any]
) -> None:
    """Defect 1: a CI runner after a laptop (other path, umask 077, from infra/): no diff.

    Before the fix the build context and Dockerfile were absolute paths, so
    every registry-image input differed and `pulumi up` rebuilt and pushed the
    same tag, which the immutable repository refuses.
    """
    first = _runs(baseline)
    for variant in ALL_VARIANTS:
        diff = diff_runs(first[variant], from_ci[variant])
        assert diff.is_empty(), f"{variant} from another checkout:\n{diff.describe()}"


def test_the_same_commit_run_from_the_root_is_stable_across_checkouts(
    checkouts: dict[str, Path], tmp_path: Path
) -> None:
    """The harness's usual working directory (the root) is as path-independent as infra/."""
    runs = [
        run_fresh(
            checkouts[name], ("prod:fargate",), cwd=checkouts[name], dump=tmp_path / f"{name}.json"
        )
        for name in ("laptop", "ci")
    ]
    diff = diff_runs(runs[0]["prod:fargate"], runs[1]["prod:fargate"])
    assert diff.is_empty(), diff.describe()


def test_pulumi_dockers_context_digest_is_the_same_for_both_checkouts(
    checkouts: dict[str, Path], baseline: Path, from_ci: dict[str, Any]
) -> None:
    """Defect 1, the provider half: its Check hashes file modes, the staged context does not vary.

    pulumi-docker adds `build.contextDigest` (content + relative name + mode of
    every file the .dockerignore admits) to the inputs it diffs. The raw
    checkouts differ in mode (0644 vs 0600), and so would the digest; the
    program hands the provider a staged copy with fixed modes instead.
    """
    del baseline, from_ci  # both checkouts' programs have run: their contexts are staged
    laptop, runner = checkouts["laptop"], checkouts["ci"]
    raw = [docker_context_digest(root, root / "Dockerfile") for root in (laptop, runner)]
    assert raw[0] != raw[1], (
        "the umask 077 checkout should differ in modes (the emulation hashes them)"
    )
    staged = []
    for root in (laptop, runner):
        context = root / "build" / "image-context"
        assert context.is_dir(), f"the program did not stage {context}"
        staged.append(docker_context_digest(context, context / "Dockerfile"))
    assert staged[0] == staged[1]
    # The staged copy is readable by the image's non-root user whatever the umask.
    for path in (runner / "build" / "image-context").rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o044 == 0o044, path


def test_dockerignore_emulation_follows_the_repositorys_patterns() -> None:
    """The digest emulation admits what the Dockerfile copies and nothing else."""
    rules_root = Path(__file__).resolve().parents[2]
    from tests.infra.lifecycle import _ignore_rules

    rules = _ignore_rules(rules_root)
    assert not is_excluded("service/main.py", rules)
    assert not is_excluded("uv.lock", rules)
    assert is_excluded("README.md", rules)
    assert is_excluded("infra/stack.py", rules)
    assert is_excluded("service/__pycache__/main.cpython-312.pyc", rules)
    assert is_excluded("service/app.db", rules)


def test_gitattributes_pins_line_endings_of_every_build_input() -> None:
    """Defect 1: a CRLF checkout cannot change the content hash (or the context digest)."""
    import subprocess

    from infra.components.registry import REPO_ROOT, _build_inputs

    names = [path.relative_to(REPO_ROOT).as_posix() for path in _build_inputs(REPO_ROOT)]
    checked = subprocess.run(
        ["git", "check-attr", "eol", "--", *names],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    unpinned = [line for line in checked if not line.endswith(": eol: lf")]
    assert not unpinned, f"build inputs without eol=lf in .gitattributes: {unpinned}"


# ----------------------------------------------------------- a code-only change


def test_a_code_only_change_rebuilds_the_image_and_rolls_compute_only(
    checkouts: dict[str, Path], baseline: Path, tmp_path: Path
) -> None:
    """Service code changes: image and compute change; network, data and secrets do not."""
    changed = make_checkout(tmp_path / "next-commit")
    main = changed / "service" / "main.py"
    main.write_text(main.read_text() + "\n# a code-only change\n")
    first = _runs(baseline)
    second, _ = _step(changed, baseline, tmp_path, "code", ALL_VARIANTS)
    for variant in ALL_VARIANTS:
        diff = diff_runs(first[variant], second[variant])
        after = second[variant]
        for component in DATA_COMPONENTS:
            touched = _touches(diff, after, component)
            assert not touched, f"{variant}: a code change touched {component}: {touched}"
        assert not diff.creates, diff.describe()
        assert not diff.deletes, diff.describe()
        image = record(after, "docker:index/image:Image")["urn"]
        assert image in diff.updates, f"{variant}: the image was not rebuilt\n{diff.describe()}"
        compute = TASK_DEFINITION if variant.endswith("fargate") else FUNCTION
        rolled = [item["urn"] for item in after["resources"] if item["type"] == compute]
        assert rolled, f"{variant}: no {compute}"
        assert set(rolled) <= diff.changed, f"{variant}: compute did not roll"
        shape = COMPUTE_COMPONENTS[variant.split(":")[1]]
        outside = diff.changed - under_component(after, REGISTRY) - under_component(after, shape)
        assert not outside, f"{variant}: a code change touched {sorted(outside)}"


# ---------------------------------------------------- rotation rolls compute (C6, 8)


def _container_environment(run: Mapping[str, Any]) -> dict[str, str]:
    task = record(run, TASK_DEFINITION)
    containers = json.loads(task["inputs"]["containerDefinitions"])
    return {item["name"]: item["value"] for item in containers[0]["environment"]}


def _function_environment(run: Mapping[str, Any], suffix: str = "app-function") -> dict[str, str]:
    variables: dict[str, str] = record(run, FUNCTION, suffix)["inputs"]["environment"]["variables"]
    return variables


ROTATIONS = [
    ("databasePasswordRevision", "DATABASE_PASSWORD", RDS, {"password"}),
    ("cacheAuthTokenRevision", "REDIS_PASSWORD", REDIS, {"authToken"}),
    ("apiTokenRevision", "API_TOKEN", None, set()),
]
MODIFY_MODELS = {RDS: ("rds", "ModifyDBInstance"), REDIS: ("elasticache", "ModifyReplicationGroup")}
# Pulumi input name -> the Modify request member that carries it.
MODIFY_MEMBERS = {"password": "MasterUserPassword", "authToken": "AuthToken"}


@pytest.mark.parametrize(
    ("key", "variable", "data_type", "data_fields"), ROTATIONS, ids=[r[1] for r in ROTATIONS]
)
def test_rotating_a_secret_updates_data_in_place_and_rolls_compute(
    checkouts: dict[str, Path],
    baseline: Path,
    tmp_path: Path,
    key: str,
    variable: str,
    data_type: str | None,
    data_fields: set[str],
) -> None:
    """C6 + defect 8: a new value; the data resource modified in place; compute rolls.

    The compute that read the secret at start-up must be replaced: the task
    definition (new revision, tasks replaced) or the function (new version, the
    alias moves). CONFIG_REVISION carries the SSM versions, never a value.
    """
    first = _runs(baseline)
    second, _ = _step(checkouts["laptop"], baseline, tmp_path, key, config={key: 2})
    leaf = secrets_component.PARAMETER_LEAVES[variable]
    for variant in PROD_VARIANTS:
        before, after = first[variant], second[variant]
        diff = diff_runs(before, after)
        password = record(after, PASSWORD, leaf)["urn"]
        assert password in diff.replaces, f"{variant}: {variable} kept its value"
        parameter = record(after, PARAMETER, leaf)
        assert diff.updates.get(parameter["urn"]) == ["value"], diff.describe()
        assert (
            parameter["outputs"]["version"]
            == record(before, PARAMETER, leaf)["outputs"]["version"] + 1
        )
        # The data resource: updated in place, by fields its Modify call carries.
        for type_ in (RDS, REDIS):
            urn = record(after, type_)["urn"]
            if type_ == data_type:
                assert urn in diff.updates, diff.describe()
                assert urn not in diff.replaces, diff.describe()
                assert set(diff.updates[urn]) == data_fields
                service, operation = MODIFY_MODELS[type_]
                members = input_members(service, operation)
                assert {MODIFY_MEMBERS[f] for f in data_fields} <= members
            else:
                assert urn not in diff.changed, f"{variant}: {type_} changed for {variable}"
        # Compute rolls, and only CONFIG_REVISION says why.
        if variant.endswith("fargate"):
            old_env, new_env = _container_environment(before), _container_environment(after)
            assert record(after, TASK_DEFINITION)["urn"] in diff.replaces
        else:
            old_env, new_env = _function_environment(before), _function_environment(after)
            function = record(after, FUNCTION, "app-function")["urn"]
            assert diff.updates.get(function) == ["environment"], diff.describe()
            alias = record(after, "aws:lambda/alias:Alias")["inputs"]
            assert (
                alias["functionVersion"]
                == record(after, FUNCTION, "app-function")["outputs"]["version"]
            )
        changed = {name for name in new_env if old_env.get(name) != new_env[name]}
        assert changed == {"CONFIG_REVISION"}, changed
        assert f"{leaf}-v2" in new_env["CONFIG_REVISION"]
        secret_value = str(record(after, PASSWORD, leaf)["outputs"]["result"])
        assert secret_value not in json.dumps(new_env)
        for component in ("fastapi-on-aws:network:Network",):
            assert not _touches(diff, after, component)


def test_an_unchanged_redeploy_keeps_the_parameter_versions(
    checkouts: dict[str, Path], baseline: Path, tmp_path: Path
) -> None:
    """The sequence model itself: a second identical deploy changes nothing, versions included."""
    first = _runs(baseline)
    second, _ = _step(checkouts["laptop"], baseline, tmp_path, "again")
    for variant in PROD_VARIANTS:
        diff = diff_runs(first[variant], second[variant])
        assert diff.is_empty(), diff.describe()
        assert "api-token-v1" in _container_environment(second["prod:fargate"])["CONFIG_REVISION"]


# ------------------------------------------------ Redis AUTH rotation (defect 7)


def test_redis_auth_rotation_completes_in_two_steps(
    checkouts: dict[str, Path], baseline: Path, tmp_path: Path
) -> None:
    """Defect 7: ROTATE (both tokens valid, compute rolls), then SET (the old token stops).

    Step 1 bumps cacheAuthTokenRevision with the ROTATE strategy: the group gets
    the new token next to the old one and compute rolls onto it. Step 2 sets
    cacheAuthTokenUpdateStrategy=SET and changes nothing else: the provider
    sends ModifyReplicationGroup with the current token and SET whenever either
    field changes (terraform-provider-aws, resourceReplicationGroupUpdate:
    `d.HasChanges("auth_token", "auth_token_update_strategy")`), which drops
    the old token. Compute does not roll again: its token did not change.
    """
    first = _runs(baseline)
    rotate = {"cacheAuthTokenRevision": 2, "cacheAuthTokenUpdateStrategy": "ROTATE"}
    step1, step1_dump = _step(checkouts["laptop"], baseline, tmp_path, "rotate", config=rotate)
    complete = {**rotate, "cacheAuthTokenUpdateStrategy": "SET"}
    step2, _ = _step(checkouts["laptop"], step1_dump, tmp_path, "complete", config=complete)
    members = input_members("elasticache", "ModifyReplicationGroup")
    assert {"AuthToken", "AuthTokenUpdateStrategy"} <= members
    for variant in PROD_VARIANTS:
        one = diff_runs(first[variant], step1[variant])
        group = record(step1[variant], REDIS)
        assert one.updates.get(group["urn"]) == ["authToken"], one.describe()
        assert group["inputs"]["authTokenUpdateStrategy"] == "ROTATE"
        two = diff_runs(step1[variant], step2[variant])
        assert two.changed == {group["urn"]}, two.describe()
        assert two.updates[group["urn"]] == ["authTokenUpdateStrategy"]
        final = record(step2[variant], REDIS)["inputs"]
        assert final["authTokenUpdateStrategy"] == "SET"
        assert final["authToken"] == group["inputs"]["authToken"]
