"""Rename the project before its first deploy: ``make rename NAME=acme-orders``.

    python -m scripts.rename NEW-NAME [--dry-run] [--no-state-check] [--uv PATH]

The current name is the ``name:`` of Pulumi.yaml. It is the Pulumi project
name, and with it the config namespace (``<name>:<key>`` in Pulumi.*.yaml), the
component type tokens, the SSM prefix ``/<name>/<stack>/``, the ``project`` tag,
the physical-name prefix, the bootstrap project ``<name>-bootstrap``, the Python
project in pyproject.toml and uv.lock, and what the docs and tests say about
them. Every file of the working tree (tracked, or new and not ignored: ``git
ls-files``) is searched, so files added or moved later are covered too; the
hyphenated name and its snake-case form (where Python needs an identifier) are
replaced where they stand as a whole word. Then the generated files are made
again: the diagrams and README embeds (``infra.tooling.plan --all``),
docs/config.md (``infra.tooling.config_reference``) and uv.lock (``uv lock
--offline``).

It refuses to run once a stack holds resources: every URN embeds the project
name (``urn:pulumi:<stack>::<project>::...``), so the next ``pulumi up`` of a
renamed project would create a second copy of everything and delete the first,
the database and its data included. The signal is ``pulumi stack export`` of
each stack ``pulumi stack ls --json`` lists, for every Pulumi.yaml in the
tree. When that cannot run (no ``pulumi`` on PATH, not logged in), the rename
goes ahead only with ``--no-state-check``, which says "nothing was ever
deployed"; a stack found with resources is refused whatever the flags.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parents[1]
NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# Files the rename never touches: history says what the project was called then.
KEEP: Final = ("CHANGELOG*", "*/CHANGELOG*")
# The stack resource is in every state that was ever created; anything else is real.
STACK_TYPE: Final = "pulumi:pulumi:Stack"
PULUMI_TIMEOUT_SECONDS: Final = 120


@dataclass(frozen=True)
class LengthRule:
    """A name built from the project name, and the most characters AWS allows it."""

    template: str
    limit: int
    what: str


# The longest names the project name goes into. The S3 bucket prefixes bind first:
# a bucket name is at most 63 characters and the AWS provider appends 26 to a
# bucket_prefix, which may therefore be at most 37 (the project name at most 23).
LENGTH_RULES: Final = (
    LengthRule(
        "{name}-pulumi-state-", 37, "the state bucket's bucket_prefix (bootstrap/program.py)"
    ),
    LengthRule("{name}-alb-logs-", 37, "the ALB access-log bucket's bucket_prefix (elb_logs.py)"),
    LengthRule("{name}-{stack}-postgres", 63, "the RDS instance identifier (physical_name)"),
    LengthRule("{name}-{stack}-redis-final", 63, "the Redis final snapshot (physical_name)"),
    LengthRule("{name}-{stack}-proxy", 60, "the RDS proxy name"),
)
# S3 refuses bucket names starting with these; SSM refuses parameter names
# (/<name>/<stack>/...) starting with aws or ssm.
RESERVED_PREFIXES: Final = ("sthree-", "amzn-s3-demo-", "aws", "ssm")


class StateUnknownError(RuntimeError):
    """Whether a stack is deployed could not be found out."""


@dataclass(frozen=True)
class DeployedStack:
    """A stack whose state holds resources besides the stack itself."""

    project_dir: str
    stack: str
    resources: int


def current_name(root: Path) -> str:
    """The Pulumi project name: ``name:`` in Pulumi.yaml."""
    document = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    return str(document["name"])


def stack_names(root: Path) -> list[str]:
    """The stacks configured in the repository: ``Pulumi.<stack>.yaml``."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in root.glob("Pulumi.*.yaml"))


def name_problems(name: str, stacks: Sequence[str]) -> list[str]:
    """Every rule ``name`` breaks, each naming the rule; empty when it may be used."""
    if not NAME_PATTERN.fullmatch(name):
        return [
            "use lowercase letters, digits and single hyphens, starting with a letter and "
            "not ending with a hyphen (RDS identifiers and S3 bucket names allow no more)"
        ]
    problems = [
        f"{name!r} starts with {prefix!r}, which S3 bucket or SSM parameter names may not"
        for prefix in RESERVED_PREFIXES
        if f"{name}-".startswith(prefix)
    ]
    for rule in LENGTH_RULES:
        for stack in stacks if "{stack}" in rule.template else [""]:
            built = rule.template.format(name=name, stack=stack)
            if len(built) > rule.limit:
                longest = len(name) - (len(built) - rule.limit)
                problems.append(
                    f"{rule.what} would be {built!r}, {len(built)} characters (at most "
                    f"{rule.limit}): use at most {longest} characters"
                )
    return problems


def working_tree_files(root: Path) -> list[str]:
    """Tracked files and new ones not ignored, as paths relative to ``root``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted(
        name
        for name in listed.split("\0")
        if name
        and (root / name).is_file()
        and not any(fnmatch.fnmatch(name, keep) for keep in KEEP)
    )


def _whole_word(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(text)}(?![A-Za-z0-9])")


def replacements(old: str, new: str) -> list[tuple[re.Pattern[str], str]]:
    """The name and its snake-case form, each as a whole word, with their new spelling."""
    pairs = [(old, new), (old.replace("-", "_"), new.replace("-", "_"))]
    return [(_whole_word(before), after) for before, after in dict(pairs).items()]


def rename_text(text: str, old: str, new: str) -> tuple[str, int]:
    """``text`` with the old name replaced, and how many places changed."""
    total = 0
    for pattern, after in replacements(old, new):
        text, count = pattern.subn(after, text)
        total += count
    return text, total


def rewrite(root: Path, files: Sequence[str], old: str, new: str, *, write: bool) -> dict[str, int]:
    """Replace the name in ``files`` (and in their paths); ``{path: places}`` changed."""
    changed: dict[str, int] = {}
    for name in files:
        path = root / name
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # binary: nothing of the name to rewrite
        renamed, count = rename_text(text, old, new)
        new_name, path_count = rename_text(name, old, new)
        if count + path_count == 0:
            continue
        changed[new_name] = count + path_count
        if not write:
            continue
        if count:
            path.write_bytes(renamed.encode("utf-8"))  # same file, so the mode is kept
        if path_count:
            (root / new_name).parent.mkdir(parents=True, exist_ok=True)
            path.rename(root / new_name)
    return changed


def _pulumi(pulumi: str, args: Sequence[str], cwd: Path) -> Any:
    """Run ``pulumi args`` in ``cwd`` and parse its JSON output."""
    shown = f"`pulumi {' '.join(args)}` in {cwd}"
    try:
        result = subprocess.run(
            [pulumi, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=PULUMI_TIMEOUT_SECONDS,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StateUnknownError(f"{shown} failed: {error}") from error
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise StateUnknownError(f"{shown} failed: {lines[-1] if lines else result.returncode}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise StateUnknownError(f"{shown} printed no JSON: {error}") from error


def deployed_stacks(root: Path, project_dirs: Sequence[str], pulumi: str) -> list[DeployedStack]:
    """The stacks of every project whose exported state holds resources."""
    found = []
    for project_dir in project_dirs:
        cwd = root / project_dir
        for entry in _pulumi(pulumi, ["stack", "ls", "--json"], cwd):
            stack = str(entry["name"])
            exported = _pulumi(pulumi, ["stack", "export", "--stack", stack], cwd)
            resources = (exported.get("deployment") or {}).get("resources") or []
            real = [r for r in resources if r.get("type") != STACK_TYPE]
            if real:
                found.append(DeployedStack(project_dir, stack, len(real)))
    return found


def check_state(root: Path, files: Sequence[str], *, acknowledged: bool) -> str | None:
    """None when the rename may go ahead; otherwise why not, to print."""
    projects = sorted(str(Path(name).parent) for name in files if Path(name).name == "Pulumi.yaml")
    pulumi = shutil.which("pulumi")
    try:
        if pulumi is None:
            raise StateUnknownError("the pulumi CLI is not on PATH")
        deployed = deployed_stacks(root, projects, pulumi)
    except StateUnknownError as error:
        if acknowledged:
            print(f"state not checked ({error}); going ahead: --no-state-check")
            return None
        return (
            f"could not check whether a stack is deployed: {error}.\n"
            "If no stack of this repository was ever deployed (`pulumi up`), rerun with "
            "--no-state-check (make rename NAME=... RENAME_ARGS=--no-state-check); otherwise "
            "install pulumi and log in to the state backend so the check can run."
        )
    if deployed:
        stacks = "; ".join(
            f"stack {d.stack} of the project in {d.project_dir}/ has {d.resources} resources"
            for d in deployed
        )
        return (
            f"{stacks} in its state.\n"
            "Renaming a deployed project would replace everything: every URN embeds the project "
            "name (urn:pulumi:<stack>::<project>::...), and so do the config keys, the SSM "
            "parameter names and the physical names. The next `pulumi up` would create a second "
            "copy of every resource and delete the first, the database and its data included. "
            "Rename before the first deploy, or back up and `pulumi destroy` those stacks first."
        )
    print(f"state checked: no stack of the projects in {', '.join(projects)} holds resources")
    return None


def find_uv(given: str | None, root: Path) -> str | None:
    """``given``, else uv on PATH, else the copy the Makefile installs in .tools/."""
    for candidate in (given, shutil.which("uv"), str(root / ".tools" / "bin" / "uv")):
        if candidate and (shutil.which(candidate) or Path(candidate).is_file()):
            return candidate
    return None


def regenerate(root: Path, uv: str | None) -> bool:
    """Make the generated files again from the renamed sources; False if a step failed."""
    steps = [
        [sys.executable, "-m", "infra.tooling.plan", "--all", "--quiet"],
        [sys.executable, "-m", "infra.tooling.config_reference"],
    ]
    if uv is None:
        print("uv not found: uv.lock was rewritten as text; run `uv lock` to confirm it")
    else:
        # Offline: only the project's own name changed, no dependency needs resolving.
        steps.append([uv, "lock", "--offline"])
    ok = True
    for step in steps:
        print("$", " ".join(step))
        if subprocess.run(step, cwd=root, check=False).returncode != 0:
            print(f"error: {' '.join(step)} failed", file=sys.stderr)
            ok = False
    return ok


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    """Command line entry point; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the new project name, e.g. acme-orders")
    parser.add_argument("--dry-run", action="store_true", help="list what would change")
    parser.add_argument(
        "--no-state-check",
        action="store_true",
        help="go ahead when the state cannot be checked (nothing was ever deployed)",
    )
    parser.add_argument("--uv", help="the uv executable (default: on PATH, then .tools/bin/uv)")
    args = parser.parse_args(argv)

    old, new = current_name(root), args.name
    if new == old:
        print(f"the project is already called {old}")
        return 0
    problems = name_problems(new, stack_names(root))
    if problems:
        print(f"refused: {new!r} cannot be the project name:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    files = working_tree_files(root)
    refusal = check_state(root, files, acknowledged=args.no_state_check)
    if refusal is not None and not args.dry_run:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    if refusal is not None:
        print(f"note: the rename itself would be refused: {refusal}")
    changed = rewrite(root, files, old, new, write=not args.dry_run)
    verb = "would rename" if args.dry_run else "renamed"
    print(f"{verb} {old} -> {new}: {sum(changed.values())} places in {len(changed)} files")
    if args.dry_run:
        for name, count in sorted(changed.items()):
            print(f"  {count:4d}  {name}")
        return 0
    if not regenerate(root, find_uv(args.uv, root)):
        return 1
    print("done: review `git diff`, then `make lint test`; the next `pulumi up` creates the stacks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
