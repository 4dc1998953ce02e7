"""scripts/rename.py: the name rules, the state check, and a renamed clone that still works.

The refusals run against a small repository made in the test, with a stand-in
``pulumi`` on PATH that answers ``stack ls --json`` and ``stack export`` from
canned state. The clone tests rename a copy of this working tree to the
longest name the rules allow, then run its plans, config and policy tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.rename import (
    check_state,
    current_name,
    main,
    name_problems,
    rename_text,
    working_tree_files,
)
from tests.docs.clone import make_clone, run_make
from tests.infra.lifecycle import ALL_VARIANTS, HARNESS

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = {"type": "pulumi:pulumi:Stack", "urn": "urn:pulumi:dev::demo-app::pulumi:pulumi:Stack::x"}
BUCKET = {
    "type": "aws:s3/bucket:Bucket",
    "urn": "urn:pulumi:dev::demo-app::aws:s3/bucket:Bucket::b",
}
# 23 characters: the longest name the S3 bucket prefixes leave room for.
LONGEST = "acme-orders-service-api"

STANDIN = """\
import json, os, re, sys
from pathlib import Path

args = [a for a in sys.argv[1:] if not a.startswith("--non-interactive")]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
config = json.loads(Path(os.environ["STANDIN_STATE"]).read_text())
if config.get("fail"):
    print("error: PULUMI_ACCESS_TOKEN must be set for login", file=sys.stderr)
    sys.exit(255)
project = re.search(r"^name: *(\\S+)", Path("Pulumi.yaml").read_text(), re.M).group(1)
stacks = config["projects"].get(project, {})
if args[:3] == ["stack", "ls", "--json"]:
    print(json.dumps([{"name": name, "current": False} for name in stacks]))
elif args[:3] == ["stack", "export", "--stack"]:
    print(json.dumps({"version": 3, "deployment": {"resources": stacks[args[3]]}}))
else:
    sys.exit(f"stand-in pulumi: unexpected {args}")
"""


# ------------------------------------------------------------------ name rules


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("Acme", "lowercase letters"),
        ("acme_orders", "lowercase letters"),
        ("acme--orders", "single hyphens"),
        ("9acme", "starting with a letter"),
        ("acme-", "not ending with a hyphen"),
        ("", "lowercase letters"),
        (LONGEST + "x", "at most 23 characters"),
        ("sthree", "'sthree-'"),
        ("aws-orders", "'aws'"),
        ("ssmtool", "'ssm'"),
    ],
)
def test_a_name_aws_would_refuse_is_refused_naming_the_rule(name: str, rule: str) -> None:
    problems = name_problems(name, ["dev", "prod"])
    assert problems
    assert rule in " ".join(problems)


@pytest.mark.parametrize("name", ["acme-orders", "a", "shop2", LONGEST])
def test_names_within_the_rules_pass(name: str) -> None:
    assert name_problems(name, ["dev", "prod"]) == []


def test_a_long_stack_name_tightens_the_limit() -> None:
    """Names built from ``<name>-<stack>-...`` count the longest stack configured."""
    problems = name_problems(LONGEST, ["dev", "a-very-long-staging-stack-name-here"])
    assert any("RDS" in problem for problem in problems)


def test_only_whole_words_are_renamed() -> None:
    text = "demo-app demo-app-bootstrap /demo-app/dev _demo_app_mocks demo-apple xdemo-app"
    renamed, count = rename_text(text, "demo-app", "acme-orders")
    assert renamed == (
        "acme-orders acme-orders-bootstrap /acme-orders/dev _acme_orders_mocks demo-apple xdemo-app"
    )
    assert count == 4


# ------------------------------------------------------------------ state check


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    """A small repository called demo-app with a bootstrap project, under git."""
    root = tmp_path / "repo"
    (root / "bootstrap").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: demo-app\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text("config:\n  demo-app:compute: fargate\n")
    (root / "bootstrap" / "Pulumi.yaml").write_text("name: demo-app-bootstrap\n")
    (root / "CHANGELOG.md").write_text("0.1: first release of demo-app\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _install_standin(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "pulumi"
    script.write_text(f"#!{sys.executable}\n{STANDIN}")
    script.chmod(0o755)


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """A ``pulumi`` first on PATH; call it with ``projects={...}`` (or ``fail=True``)."""
    _install_standin(tmp_path / "bin")
    state = tmp_path / "state.json"
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_STATE", str(state))
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.log"))

    def answer(**canned: Any) -> None:
        state.write_text(json.dumps({"projects": {}, **canned}))

    answer()
    return answer


def _untouched(root: Path) -> bool:
    return "demo-app:compute" in (root / "Pulumi.dev.yaml").read_text()


def test_a_deployed_stack_is_refused_naming_it(
    demo_repo: Path,
    standin: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin(projects={"demo-app": {"dev": [STACK, BUCKET], "prod": [STACK]}})
    assert main(["acme-orders", "--no-state-check"], root=demo_repo) == 1
    error = capsys.readouterr().err
    assert "stack dev of the project in ./ has 1 resources" in error
    assert "prod" not in error
    assert "database and its data" in error
    assert _untouched(demo_repo)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert "stack export --stack dev" in calls
    assert "stack export --stack prod" in calls


def test_a_deployed_bootstrap_stack_is_refused(
    demo_repo: Path, standin: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    standin(projects={"demo-app-bootstrap": {"ci": [STACK, BUCKET, BUCKET]}})
    assert main(["acme-orders"], root=demo_repo) == 1
    assert "stack ci of the project in bootstrap/ has 2 resources" in capsys.readouterr().err
    assert _untouched(demo_repo)


def test_stacks_holding_only_themselves_let_the_rename_go_ahead(
    demo_repo: Path, standin: Callable[..., None]
) -> None:
    standin(projects={"demo-app": {"dev": [STACK], "prod": []}})
    files = working_tree_files(demo_repo)
    assert check_state(demo_repo, files, acknowledged=False) is None


def test_no_pulumi_on_path_needs_the_acknowledgement(
    demo_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A PATH with git and nothing else: no pulumi, whatever this machine has.
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    git = shutil.which("git")
    assert git is not None
    (only_git / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(only_git))
    assert main(["acme-orders"], root=demo_repo) == 1
    error = capsys.readouterr().err
    assert "the pulumi CLI is not on PATH" in error
    assert "--no-state-check" in error
    assert _untouched(demo_repo)
    files = working_tree_files(demo_repo)
    assert check_state(demo_repo, files, acknowledged=True) is None


def test_a_backend_that_cannot_be_read_needs_the_acknowledgement(
    demo_repo: Path, standin: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    standin(fail=True)
    assert main(["acme-orders"], root=demo_repo) == 1
    assert "PULUMI_ACCESS_TOKEN must be set" in capsys.readouterr().err
    assert _untouched(demo_repo)
    assert check_state(demo_repo, working_tree_files(demo_repo), acknowledged=True) is None


def test_a_bad_name_is_refused_before_anything_is_checked(
    demo_repo: Path,
    standin: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["Acme"], root=demo_repo) == 2
    assert "lowercase letters" in capsys.readouterr().err
    assert not (tmp_path / "calls.log").exists()


def test_the_dry_run_lists_without_writing(
    demo_repo: Path, standin: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["acme-orders", "--dry-run"], root=demo_repo) == 0
    out = capsys.readouterr().out
    assert "would rename demo-app -> acme-orders: 3 places in 3 files" in out
    assert "CHANGELOG" not in out  # history keeps the old name
    assert _untouched(demo_repo)


# ------------------------------------------------------------------ a renamed clone


def _uv() -> str:
    """The uv that ``make`` would use; CI and every make-bootstrapped checkout have one.

    Without any, ``true`` stands in (the lock keeps its textual rename), rather
    than make installing uv from the network in the middle of a test.
    """
    local = REPO_ROOT / ".tools" / "bin" / "uv"
    found = shutil.which("uv") or (str(local) if local.is_file() else shutil.which("true"))
    assert found is not None
    return found


def _name_other_than(current: str) -> str:
    return LONGEST if current != LONGEST else "acme-billing-servic-api"


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A copy of this working tree renamed to a 23-character name: (clone, old, new)."""
    base = tmp_path_factory.mktemp("rename")
    clone = make_clone(base / "repo")
    old = current_name(clone)
    new = _name_other_than(old)
    # No state to find: a stand-in that knows no stack (a real pulumi would look
    # for this project's stacks in whatever backend the developer is logged in to).
    _install_standin(base / "bin")
    (base / "state.json").write_text('{"projects": {}}')
    uv = _uv()
    result = run_make(
        clone,
        "rename",
        f"NAME={new}",
        f"UV={uv}",
        env={
            **os.environ,
            "PATH": f"{base / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "STANDIN_STATE": str(base / "state.json"),
            "STANDIN_LOG": str(base / "calls.log"),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "state checked: no stack of the projects in ., bootstrap holds resources" in (
        result.stdout
    )
    assert "infra.tooling.plan --all" in result.stdout  # the four plans ran
    assert f"{uv} lock --offline" in result.stdout  # then uv.lock's name is checked below
    return clone, old, new


def test_no_old_name_is_left_outside_the_history(renamed: tuple[Path, str, str]) -> None:
    clone, old, new = renamed
    forms = re.compile(rf"{re.escape(old)}|{re.escape(old.replace('-', '_'))}")
    left = []
    for name in working_tree_files(clone):  # KEEP (the history) is left out
        assert not forms.search(name), name
        try:
            text = (clone / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        left += [f"{name}: {line.strip()}" for line in text.splitlines() if forms.search(line)]
    assert left == []
    assert current_name(clone) == new
    assert f'name = "{new}"' in (clone / "pyproject.toml").read_text()
    assert f'name = "{new}"' in (clone / "uv.lock").read_text()
    assert f"{new}:compute:" in (clone / "Pulumi.dev.yaml").read_text()
    assert f"## Project keys (`{new}:<key>`)" in (clone / "docs" / "config.md").read_text()


def test_the_renamed_program_plans_every_variant_under_the_new_name(
    renamed: tuple[Path, str, str], tmp_path: Path
) -> None:
    clone, old, new = renamed
    dump = tmp_path / "dump.json"
    command = [sys.executable, str(clone / HARNESS), "--cwd", str(clone / "infra")]
    command += ["--dump", str(dump)]
    for variant in ALL_VARIANTS:
        command += ["--run", variant]
    subprocess.run(command, cwd=clone, check=True, capture_output=True)
    variants = json.loads(dump.read_text())
    assert sorted(variants) == sorted(ALL_VARIANTS)
    for variant in variants.values():
        resources = variant["resources"]
        assert resources
        for resource in resources:
            assert f"::{new}::" in resource["urn"]
            assert old not in json.dumps(resource)
        components = [r for r in resources if not r["custom"] and r["parent"]]
        assert all(r["type"].startswith(f"{new}:") for r in components)
        tagged = [
            r["inputs"]["tags"] for r in resources if isinstance(r["inputs"].get("tags"), dict)
        ]
        assert tagged
        assert all(tags.get("project") == new for tags in tagged)


def test_the_config_and_policy_tests_pass_on_the_renamed_clone(
    renamed: tuple[Path, str, str],
) -> None:
    clone, _, _ = renamed
    tests = ["tests/infra/test_config.py", "tests/infra/policies", "tests/infra/test_tags.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout)
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_make_rename_passes_the_acknowledgement_and_needs_a_name(tmp_path: Path) -> None:
    dry = run_make(REPO_ROOT, "-n", "rename", "NAME=acme-orders", "RENAME_ARGS=--no-state-check")
    assert dry.returncode == 0, dry.stderr
    assert re.search(r"-m scripts.rename --uv \S+ --no-state-check \"acme-orders\"", dry.stdout)
    # UV names an existing file, so make builds no prerequisite before the check.
    missing = run_make(REPO_ROOT, "rename", f"UV={sys.executable}")
    assert missing.returncode != 0
    assert "usage: make rename NAME=acme-orders" in missing.stderr
