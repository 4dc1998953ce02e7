"""scripts/checkov.sh: what it scans, how it runs checkov, and that a
suppression without a written reason fails (INVARIANTS B16, B17).

checkov itself is replaced by a fake ``uv`` on PATH that records its
arguments, so these tests need no network and no checkov install; the real
scan runs in .ci/run and in ci.yml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "checkov.sh"

FAKE_UV = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$FAKE_UV_LOG"
exit "${FAKE_UV_EXIT:-0}"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A minimal checkout: the script, a Dockerfile and the two workflows."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "checkov.sh")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("name: ci\n")
    (workflows / "deploy.yml").write_text("name: deploy\n")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text(FAKE_UV)
    (bin_dir / "uv").chmod(0o755)
    return tmp_path


def run(repo: Path, exit_code: int = 0) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the copied script with the fake uv first on PATH."""
    log = repo / "uv-args.txt"
    env = {
        **os.environ,
        "PATH": f"{repo / 'bin'}:{os.environ['PATH']}",
        "FAKE_UV_LOG": str(log),
        "FAKE_UV_EXIT": str(exit_code),
    }
    result = subprocess.run(
        ["bash", str(repo / "scripts" / "checkov.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    args = log.read_text().splitlines() if log.exists() else []
    return result, args


def test_runs_pinned_checkov_in_its_own_environment_over_all_targets(repo: Path) -> None:
    """uv tool run --from checkov==<pin>, both frameworks, every file, no downloads."""
    result, args = run(repo)
    assert result.returncode == 0, result.stderr
    assert args[:4] == ["tool", "run", "--from", "checkov==3.3.30"]
    assert "dockerfile" in args
    assert "github_actions" in args
    assert "--skip-download" in args
    scanned = [args[i + 1] for i, a in enumerate(args) if a == "--file"]
    assert scanned == ["Dockerfile", ".github/workflows/ci.yml", ".github/workflows/deploy.yml"]
    assert "no unsuppressed findings" in result.stdout


def test_extra_workflows_are_scanned_too(repo: Path) -> None:
    """A workflow added later cannot escape the scan."""
    (repo / ".github" / "workflows" / "release.yaml").write_text("name: release\n")
    _, args = run(repo)
    assert ".github/workflows/release.yaml" in args


def test_findings_fail_the_script(repo: Path) -> None:
    """checkov's non-zero exit is passed on."""
    result, _ = run(repo, exit_code=1)
    assert result.returncode != 0
    assert "checkov reported findings" in result.stderr


def test_a_missing_dockerfile_is_an_error_not_a_skip(repo: Path) -> None:
    """The Dockerfile is part of the contract: missing means failing."""
    (repo / "Dockerfile").unlink()
    result, args = run(repo)
    assert result.returncode != 0
    assert "Dockerfile not found" in result.stderr
    assert args == [], "checkov must not run on a partial set"


@pytest.mark.parametrize(
    ("comment", "ok"),
    [
        ("# checkov:skip=CKV_DOCKER_2", False),
        ("# checkov:skip=CKV_DOCKER_2:", False),
        ("# checkov:skip=CKV_DOCKER_2: n/a", False),
        ("# checkov:skip=CKV_DOCKER_2: ECS and the ALB health-check the container", True),
    ],
)
def test_suppressions_need_a_written_reason(repo: Path, comment: str, ok: bool) -> None:
    """Only in-place skips with a reason of a few words are accepted."""
    dockerfile = repo / "Dockerfile"
    dockerfile.write_text(f"{comment}\nFROM python:3.11-slim\n")
    result, args = run(repo)
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert "without a written reason" in result.stderr
        assert args == []
