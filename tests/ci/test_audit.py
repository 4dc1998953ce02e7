"""The vulnerability gate: the allowlist's shape and expiry, the audit command, the CI job.

The advisory databases cannot be reached from this machine, so the audit itself
runs only in GitHub CI; here the structure is tested.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from scripts import audit
from tests.ci.test_workflows import CI, jobs

TODAY = dt.date(2026, 12, 1)


def _allowlist(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "allowlist.toml"
    path.write_text(textwrap.dedent(body))
    return path


def test_the_committed_allowlist_is_well_formed_and_nothing_in_it_has_expired() -> None:
    """Checked with today's date: an expired entry fails this test (and the gate)."""
    entries = audit.load_allowlist()
    for entry in entries:
        assert entry.expires >= dt.datetime.now(dt.UTC).date(), entry


def test_a_complete_entry_is_accepted(tmp_path: Path) -> None:
    path = _allowlist(
        tmp_path,
        """
        [[ignore]]
        id = "GHSA-aaaa-bbbb-cccc"
        package = "example"
        reason = "only reachable through a code path this service never calls"
        expires = 2027-01-15
        """,
    )
    (entry,) = audit.load_allowlist(path, today=TODAY)
    assert (entry.id, entry.package, entry.expires) == (
        "GHSA-aaaa-bbbb-cccc",
        "example",
        dt.date(2027, 1, 15),
    )


BAD = [
    ('id = "X"\npackage = "p"\nreason = "long enough reason, really"', "missing expires"),
    (
        'id = "X"\npackage = "p"\nreason = "long enough reason, really"\nexpires = 2026-11-30',
        "expired",
    ),
    (
        'id = "X"\npackage = "p"\nreason = "long enough reason, really"\nexpires = 2027-06-01',
        "90 days",
    ),
    ('id = "X"\npackage = "p"\nreason = "because"\nexpires = 2027-01-01', "says too little"),
    (
        'id = "X"\npackage = "p"\nreason = "long enough reason, really"\nexpires = "2027-01-01"',
        "TOML date",
    ),
    (
        'id = "X"\npackage = "p"\nreason = "long enough reason, really"\n'
        'expires = 2027-01-01\nowner = "me"',
        "unknown key",
    ),
]


@pytest.mark.parametrize(("entry", "message"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_or_expired_entry_fails_the_gate(tmp_path: Path, entry: str, message: str) -> None:
    """Each rule names the entry and what is wrong."""
    path = _allowlist(tmp_path, f"[[ignore]]\n{entry}\n")
    with pytest.raises(audit.AllowlistError, match=message):
        audit.load_allowlist(path, today=TODAY)


def test_the_audit_covers_exactly_the_image_dependencies_strictly() -> None:
    """Runtime + lambda group from the lock, hashed; strict; only allowlisted ids ignored."""
    export = audit.export_command()
    assert export[:3] == ["uv", "export", "--frozen"]
    assert "--no-default-groups" in export
    assert export[export.index("--group") + 1] == "lambda"
    assert "--no-hashes" not in export
    allowed = [audit.Allowed("GHSA-1", "p", "a long enough reason here", TODAY)]
    command = audit.audit_command(Path("req.txt"), allowed)
    assert audit.PIP_AUDIT in command
    assert audit.PIP_AUDIT.count("==") == 1, "pip-audit is pinned"
    for flag in ("--strict", "--require-hashes", "--disable-pip"):
        assert flag in command, flag
    assert command[command.index("--ignore-vuln") + 1] == "GHSA-1"
    assert command.count("--ignore-vuln") == 1


def test_ci_runs_the_audit_gate_with_read_only_permissions() -> None:
    """ci.yml (run on pull requests and before every deploy) has the audit job."""
    job = jobs(CI)["audit"]
    assert job["permissions"] == {"contents": "read"}
    runs = [str(step.get("run", "")) for step in job["steps"]]
    assert any(run.strip() == "make audit" for run in runs), runs
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "-m scripts.audit" in makefile.split("\naudit:", 1)[1].split("\n\n", 1)[0]
