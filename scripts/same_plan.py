"""Prove a refactoring changes no resource: the four variants' URNs and inputs, before and after.

``python -m scripts.same_plan --against REV`` runs the program of revision
``REV`` (a temporary git worktree) and of the working tree, each in a fresh
interpreter under mocks, for dev/prod x fargate/lambda, and compares them
with the differ the lifecycle tests use (``tests.infra.lifecycle.diff_runs``:
per URN, create, delete, replace or update with the changed input keys).
A URN carries the parent chain, so a resource moved under another parent
shows as a delete and a create. It also compares each resource's parent and
``deleteBeforeReplace``. Exit 0 and "no change" when the two plans are the same.

The image tag hashes the image's build inputs (``BUILD_INPUT_FILES`` and
``BUILD_INPUT_DIRS`` of infra/components/registry.py: the service, the lock,
pyproject.toml, the Dockerfile), so any change there shows as a new image,
nonce, task definition or function image. ``--same-image`` runs the working
tree's program with the revision's build inputs, to isolate what the program's
own code changes from what a change of the service or its lock changes.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.components.registry import BUILD_INPUT_DIRS, BUILD_INPUT_FILES  # noqa: E402

# The lifecycle tests' differ; imported by name so mypy does not follow into the tests.
_lifecycle: Any = importlib.import_module("tests.infra.lifecycle")
ALL_VARIANTS: tuple[str, ...] = _lifecycle.ALL_VARIANTS


def _copy_build_inputs(source: Path, destination: Path) -> None:
    """Give ``destination`` the image build inputs of ``source``."""
    for name in BUILD_INPUT_FILES:
        shutil.copyfile(source / name, destination / name)
    for name in BUILD_INPUT_DIRS:
        shutil.rmtree(destination / name)
        shutil.copytree(source / name, destination / name)


def _options_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Parent or delete-before-replace differences per URN (the differ compares inputs)."""
    old = {item["urn"]: item for item in before["resources"]}
    new = {item["urn"]: item for item in after["resources"]}
    lines = []
    for urn in sorted(set(old) & set(new)):
        for key in ("parent", "delete_before_replace", "custom"):
            if old[urn].get(key) != new[urn].get(key):
                lines.append(f"{key} of {urn}: {old[urn].get(key)!r} -> {new[urn].get(key)!r}")
    return lines


def compare(
    revision: str, variants: Sequence[str] = ALL_VARIANTS, *, same_image: bool = False
) -> list[str]:
    """Every difference between ``revision``'s plan and the working tree's, one line each."""
    with tempfile.TemporaryDirectory(prefix="same-plan-") as scratch:
        work = Path(scratch)
        worktree = work / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--force", str(worktree), revision],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            before = _lifecycle.run_fresh(worktree, variants, dump=work / "before.json")
            # A copy of the working tree, not the tree itself: the run stages the
            # image context under the checkout, and both runs must do it alike.
            after_tree = _lifecycle.make_checkout(work / "after")
            if same_image:
                _copy_build_inputs(worktree, after_tree)
            after = _lifecycle.run_fresh(after_tree, variants, dump=work / "after.json")
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)],
                cwd=ROOT,
                check=False,
                capture_output=True,
            )
    problems: list[str] = []
    for variant in variants:
        diff = _lifecycle.diff_runs(before[variant], after[variant])
        count = len(after[variant]["resources"])
        if diff.is_empty():
            print(f"{variant}: {count} resources, same URNs, same inputs")
        else:
            problems += [f"{variant}: {line}" for line in diff.describe().splitlines()]
        problems += [
            f"{variant}: {line}" for line in _options_changes(before[variant], after[variant])
        ]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.same_plan", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--against", required=True, help="the git revision to compare with")
    parser.add_argument(
        "--same-image",
        action="store_true",
        help="run with the revision's image build inputs (isolates the program's own changes)",
    )
    options = parser.parse_args(argv)
    problems = compare(options.against, same_image=options.same_image)
    for line in problems:
        print(line)
    print("no change" if not problems else f"{len(problems)} difference(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
