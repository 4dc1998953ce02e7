"""A copy of the working tree to follow a walkthrough in, and ``make`` run inside it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.infra.lifecycle import make_checkout

# The environment the suite runs in: the clone has none of its own, and
# `make -o` keeps make from syncing one (it would download the dependencies).
VENV = Path(sys.executable).parent.parent


def make_clone(destination: Path) -> Path:
    """The working tree's files (tracked and new) at ``destination``, in a fresh git repository."""
    clone = make_checkout(destination)
    subprocess.run(["git", "init", "-q"], cwd=clone, check=True)
    return clone


def run_make(
    clone: Path, *arguments: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``make ARGUMENTS`` in ``clone`` (environment ``env``, default this one's).

    This suite's virtualenv stands in for the clone's ``.venv``.
    """
    synced = f"{VENV}/.synced"
    return subprocess.run(
        ["make", "--no-print-directory", "-o", synced, f"VENV={VENV}", *arguments],
        cwd=clone,
        capture_output=True,
        text=True,
        env=dict(os.environ if env is None else env),
        check=False,
    )
