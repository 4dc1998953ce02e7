"""Issue item 2: the program builds however Pulumi launches it (any cwd, bare sys.path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra import harness
from tests.infra.harness import REPO_ROOT


def _run_elsewhere(stack: str, cwd: Path, compute: str | None = None) -> dict[str, Any]:
    """Run the program in a fresh interpreter from ``cwd`` without the repo root on sys.path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PULUMI_CONFIG")}
    command = [sys.executable, str(Path(harness.__file__)), stack, "--cwd", str(cwd)]
    if compute:
        command += ["--compute", compute]
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return summary


@pytest.mark.parametrize(("stack", "compute"), [("dev", None), ("prod", "lambda")])
def test_program_builds_from_root_and_from_inside_infra(stack: str, compute: str | None) -> None:
    """Same resources, outputs and build context from the repo root and from infra/.

    The build paths are relative to the working directory (defect 1), so they
    differ as strings and resolve to the same staged context.
    """
    from_root = _run_elsewhere(stack, REPO_ROOT, compute)
    from_infra = _run_elsewhere(stack, REPO_ROOT / "infra", compute)
    root_build, infra_build = from_root.pop("image_build"), from_infra.pop("image_build")
    for key in ("context", "dockerfile"):
        assert (REPO_ROOT / root_build[key]).resolve() == (
            REPO_ROOT / "infra" / infra_build[key]
        ).resolve()
    assert infra_build["context"] == "../build/image-context"
    assert from_root == from_infra
    # A fresh in-process build, not the session cache, so all three see the same tree.
    fresh = harness.build_stack_uncached(stack, compute)
    in_process = json.loads(json.dumps(harness.summary(fresh), sort_keys=True, default=str))
    assert in_process.pop("image_build") == root_build
    assert from_root == in_process
    assert from_infra["resource_count"] > 30


def test_main_makes_the_repository_importable_itself() -> None:
    """infra/__main__.py puts the repo root on sys.path from __file__, not from the cwd."""
    source = (REPO_ROOT / "infra" / "__main__.py").read_text()
    assert "Path(__file__).resolve().parent.parent" in source
    assert "os.getcwd" not in source
    assert "chdir" not in source
