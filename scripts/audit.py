"""The vulnerability gate: audit the image's locked runtime dependencies.

Exports exactly what the image installs from ``uv.lock`` (the project's
runtime dependencies plus the ``lambda`` group, no dev or infra tooling) and
runs pip-audit on it with ``--strict`` (a package that cannot be audited fails
too). Known vulnerabilities are tolerated only through
``security/vulnerability-allowlist.toml``, where every entry has an id, the
package, a reason and an expiry date at most 90 days ahead; a malformed or
expired entry fails the gate before anything is audited.

    python -m scripts.audit [--check-allowlist-only]

pip-audit runs through ``uv tool run`` at a pinned version; the vulnerability
databases (PyPI's advisory data, OSV) must be reachable, which is the case on
GitHub's runners.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "security" / "vulnerability-allowlist.toml"
PIP_AUDIT = "pip-audit==2.10.1"
MAX_DAYS = 90
REQUIRED = ("id", "package", "reason", "expires")


class AllowlistError(ValueError):
    """The allowlist has a malformed or expired entry."""


@dataclass(frozen=True)
class Allowed:
    """One tolerated vulnerability."""

    id: str
    package: str
    reason: str
    expires: dt.date


def load_allowlist(path: Path = ALLOWLIST, today: dt.date | None = None) -> list[Allowed]:
    """The allowlist's entries; raise naming the entry and the key on any problem."""
    today = today or dt.datetime.now(dt.UTC).date()
    document = tomllib.loads(path.read_text())
    unknown = set(document) - {"ignore"}
    if unknown:
        raise AllowlistError(f"{path.name}: unknown top-level key(s) {sorted(unknown)}")
    entries: list[Allowed] = []
    for index, raw in enumerate(document.get("ignore", [])):
        where = f"{path.name} entry {index + 1}"
        missing = [key for key in REQUIRED if not raw.get(key)]
        if missing:
            raise AllowlistError(f"{where}: missing {', '.join(missing)} (needs {REQUIRED})")
        extra = set(raw) - set(REQUIRED)
        if extra:
            raise AllowlistError(f"{where}: unknown key(s) {sorted(extra)}")
        expires = raw["expires"]
        if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
            raise AllowlistError(f"{where} ({raw['id']}): expires must be a TOML date")
        if expires < today:
            raise AllowlistError(
                f"{where} ({raw['id']}): expired on {expires}; fix the dependency, or renew "
                "the entry with a new reason and date"
            )
        if (expires - today).days > MAX_DAYS:
            raise AllowlistError(
                f"{where} ({raw['id']}): expires {expires}, more than {MAX_DAYS} days ahead"
            )
        if len(str(raw["reason"]).strip()) < 20:
            raise AllowlistError(f"{where} ({raw['id']}): the reason says too little")
        entries.append(Allowed(raw["id"], raw["package"], raw["reason"], expires))
    return entries


def export_command() -> list[str]:
    """``uv export`` of exactly what the image installs (runtime + lambda group), hashed.

    Every transitive dependency is pinned with its hashes, so pip-audit audits
    exactly these and resolves nothing itself (``--require-hashes --disable-pip``).
    """
    return [
        "uv", "export", "--frozen", "--no-default-groups", "--group", "lambda",
        "--no-emit-project", "--quiet",
    ]  # fmt: skip


def audit_command(requirements: Path, allowed: list[Allowed]) -> list[str]:
    """pip-audit over ``requirements``, strict, ignoring only the allowlisted ids."""
    command = [
        "uv", "tool", "run", "--quiet", PIP_AUDIT,
        "--requirement", str(requirements), "--strict", "--progress-spinner", "off",
        "--require-hashes", "--disable-pip",
    ]  # fmt: skip
    for entry in allowed:
        command += ["--ignore-vuln", entry.id]
    return command


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-allowlist-only", action="store_true")
    options = parser.parse_args(argv)
    try:
        allowed = load_allowlist()
    except AllowlistError as error:
        print(f"audit: {error}", file=sys.stderr)
        return 2
    for entry in allowed:
        print(f"allowed until {entry.expires}: {entry.id} in {entry.package}: {entry.reason}")
    if options.check_allowlist_only:
        print(f"audit: allowlist ok ({len(allowed)} entries)")
        return 0
    exported = subprocess.run(
        export_command(), cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write(exported)
    print(f"audit: {sum(1 for line in exported.splitlines() if '==' in line)} locked packages")
    return subprocess.run(audit_command(Path(requirements.name), allowed), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
