"""Deploy sequences under mocks: checkouts, fresh runs, and the engine's diff.

A deploy is a diff the engine computes between the inputs in state and the
inputs the program registers now, resource by resource, by URN. ``run_fresh``
runs the real program in a fresh interpreter from a given checkout and working
directory (as the CLI starts the language host, ``main: infra/``), optionally
continuing from the previous run's state (``prior``: AWS-derived outputs such
as an SSM parameter's version continue from it). ``diff_runs`` compares two
runs the way the engine does and says, per URN, create, delete, replace or
update with the changed input keys.

``docker_context_digest`` re-implements pulumi-docker's ``hashContext``
(provider/provider.go in pulumi/pulumi-docker: every file the .dockerignore
admits, hashed with its relative path and its *mode*, plus the Dockerfile
under the name "Dockerfile" with mode 0) for the patterns this repository's
.dockerignore uses. No mock runs the provider, so this is how a test sees
what its Check would compute for a checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.infra.harness import REPO_ROOT

HARNESS = Path("tests") / "infra" / "harness.py"
ALL_VARIANTS = ("dev:fargate", "dev:lambda", "prod:fargate", "prod:lambda")
PROD_VARIANTS = ("prod:fargate", "prod:lambda")

# Inputs whose change makes the provider replace rather than update (the
# ForceNew fields of the bridged schemas this program's diffs touch). Anything
# not listed is an in-place update; the data-resource tests check those fields
# against botocore's Modify* models.
REPLACE_ON_CHANGE: Mapping[str, frozenset[str]] = {
    "random:index/randomPassword:RandomPassword": frozenset(
        {"keepers", "length", "special", "overrideSpecial", "upper", "lower", "numeric"}
    ),
    "random:index/randomId:RandomId": frozenset({"keepers", "byteLength", "prefix"}),
    "aws:ecs/taskDefinition:TaskDefinition": frozenset(
        {"containerDefinitions", "cpu", "memory", "family", "volumes", "runtimePlatform"}
    ),
    "aws:lambda/invocation:Invocation": frozenset({"triggers", "input", "functionName"}),
    # The provider has no update for a proxy target: any change registers anew.
    "aws:rds/proxyTarget:ProxyTarget": frozenset(
        {"dbInstanceIdentifier", "dbClusterIdentifier", "dbProxyName", "targetGroupName"}
    ),
}


# ----------------------------------------------------------------- checkouts


def tracked_files(root: Path = REPO_ROOT) -> list[str]:
    """The files a clone of the working tree holds (tracked plus new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (root / name).is_file())


def make_checkout(destination: Path, *, umask: int = 0o022, root: Path = REPO_ROOT) -> Path:
    """A copy of the working tree at ``destination``, with modes as git would give under ``umask``.

    git records only the executable bit; a checkout creates files 0666 or 0777
    less the umask. Under umask 077 every file is owner-only.
    """
    for name in tracked_files(root):
        source = root / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        executable = source.stat().st_mode & stat.S_IXUSR
        target.chmod((0o777 if executable else 0o666) & ~umask)
    return destination


# ------------------------------------------------------------------- running


def run_fresh(
    checkout: Path,
    variants: Iterable[str],
    *,
    cwd: Path | None = None,
    prior: Path | None = None,
    config: Mapping[str, object] | None = None,
    dump: Path,
) -> dict[str, Any]:
    """Run ``variants`` of ``checkout``'s program in a fresh interpreter; return the dump.

    ``cwd`` defaults to ``checkout/infra``: where the Pulumi CLI runs the
    program (and starts the providers) for ``main: infra/``.
    """
    working = cwd if cwd is not None else checkout / "infra"
    command = [sys.executable, str(checkout / HARNESS), "--cwd", str(working), "--dump", str(dump)]
    for variant in variants:
        command += ["--run", variant]
    if prior is not None:
        command += ["--prior", str(prior)]
    for key, value in (config or {}).items():
        command += ["--set", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PULUMI_CONFIG")}
    completed = subprocess.run(
        command, cwd=working, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"the program failed in {checkout} (cwd {working}): {completed.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(dump.read_text())
    return result


# ------------------------------------------------------------------- diffing


@dataclass
class Diff:
    """What the engine would do to go from one run's state to the next."""

    creates: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    replaces: dict[str, list[str]] = field(default_factory=dict)
    updates: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> set[str]:
        """Every URN the deploy touches."""
        return {*self.creates, *self.deletes, *self.replaces, *self.updates}

    def is_empty(self) -> bool:
        """Nothing to do: the deploy is a no-op."""
        return not self.changed

    def describe(self) -> str:
        """One line per change, for assertion messages."""
        lines = [f"create {urn}" for urn in self.creates]
        lines += [f"delete {urn}" for urn in self.deletes]
        lines += [f"replace {urn}: {keys}" for urn, keys in sorted(self.replaces.items())]
        lines += [f"update {urn}: {keys}" for urn, keys in sorted(self.updates.items())]
        return "\n".join(lines) or "(no change)"


def _by_urn(run: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {item["urn"]: item for item in run["resources"]}


def diff_runs(before: Mapping[str, Any], after: Mapping[str, Any]) -> Diff:
    """Compare two runs of one variant input by input, per URN, as the engine would."""
    old, new = _by_urn(before), _by_urn(after)
    diff = Diff(
        creates=sorted(set(new) - set(old)),
        deletes=sorted(set(old) - set(new)),
    )
    for urn in sorted(set(old) & set(new)):
        old_inputs, new_inputs = old[urn]["inputs"], new[urn]["inputs"]
        changed = sorted(
            key
            for key in set(old_inputs) | set(new_inputs)
            if old_inputs.get(key) != new_inputs.get(key)
        )
        if not changed:
            continue
        if set(changed) & REPLACE_ON_CHANGE.get(new[urn]["type"], frozenset()):
            diff.replaces[urn] = changed
        else:
            diff.updates[urn] = changed
    return diff


def record(run: Mapping[str, Any], type_: str, name_suffix: str = "") -> Mapping[str, Any]:
    """The one resource of ``type_`` in a dumped run whose name ends with ``name_suffix``."""
    matches = [
        item
        for item in run["resources"]
        if item["type"] == type_ and item["name"].endswith(name_suffix)
    ]
    assert len(matches) == 1, f"{type_} *{name_suffix}: {[m['name'] for m in matches]}"
    return matches[0]


def under_component(run: Mapping[str, Any], component_type: str) -> set[str]:
    """URNs of the component of ``component_type`` and everything below it."""
    items = _by_urn(run)
    roots = {urn for urn, item in items.items() if item["type"] == component_type}
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for urn, item in items.items():
            if urn not in found and item.get("parent") in found:
                found.add(urn)
                grew = True
    return found


# ------------------------------------------------ pulumi-docker's context digest


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over slash-separated relative paths."""
    pattern = pattern.strip("/")
    out = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
            continue
        if pattern.startswith("**", index):
            out += ".*"
            index += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", index)
            out += pattern[index : end + 1]
            index = end + 1
            continue
        else:
            out += re.escape(char)
        index += 1
    return re.compile(out + r"\Z")


def _ignore_rules(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern_regex(line.lstrip("!"))))
    return rules


def is_excluded(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """moby/patternmatcher's rule: the last pattern matching the path or a parent wins."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def _walk(context: Path) -> Iterator[Path]:
    """Files under ``context`` in the order Go's lexical walk visits them."""
    for entry in sorted(context.iterdir(), key=lambda p: p.name):
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry)
        elif entry.is_file():
            yield entry


def _mode_string(mode: int) -> str:
    """Go's ``fs.FileMode.String()`` for a regular file's permission bits."""
    return "-" + stat.filemode(mode)[1:] if mode else "----------"


def docker_context_digest(context: Path, dockerfile: Path) -> str:
    """What pulumi-docker's Check stores as ``build.contextDigest`` for this context."""
    accumulator = bytearray()

    def add(path: Path, name: str, mode: int) -> None:
        accumulator.extend(name.encode())
        accumulator.extend(_mode_string(mode).encode())
        accumulator.extend(hashlib.sha256(path.read_bytes()).digest())
        accumulator.append(0)

    # The Dockerfile first, always as "Dockerfile" with mode 0.
    add(dockerfile, "Dockerfile", 0)
    rules = _ignore_rules(context)
    for path in _walk(context):
        relative = path.relative_to(context).as_posix()
        if not is_excluded(relative, rules):
            add(path, relative, stat.S_IMODE(path.stat().st_mode))
    return hashlib.sha256(bytes(accumulator)).hexdigest()
