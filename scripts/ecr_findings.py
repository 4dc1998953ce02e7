"""Judge ECR's scan-on-push findings for a deployed image: fail on CRITICAL, report the rest.

ECR's basic scanning (the repository has scan on push) looks at the image's
operating-system packages, which pip-audit (``make audit``) does not. The deploy
workflow runs this after ``up dev``, before prod: it waits for the scan of the
image dev now runs, reads ``DescribeImageScanFindings``, prints every finding,
and exits 1 when a CRITICAL one is not in ``security/vulnerability-allowlist.toml``
(same rules as the audit: id, package, reason, expiry). So a CRITICAL finding
stops the release before it reaches prod, while HIGH and below are reported
in the job log for the next base-image update (docs/ci-cd.md argues why).

    aws ecr wait image-scan-complete --repository-name R --image-id imageDigest=D
    aws ecr describe-image-scan-findings --repository-name R --image-id imageDigest=D > f.json
    python -m scripts.ecr_findings f.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.audit import Allowed, AllowlistError, load_allowlist

FAILING = frozenset({"CRITICAL"})
ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


@dataclass(frozen=True)
class Finding:
    """One vulnerability ECR reported."""

    name: str
    severity: str
    package: str


def _package(finding: Mapping[str, Any]) -> str:
    attributes = {item.get("key"): item.get("value") for item in finding.get("attributes", [])}
    name = attributes.get("package_name") or "?"
    version = attributes.get("package_version")
    return f"{name} {version}" if version else str(name)


def parse(response: Mapping[str, Any]) -> list[Finding]:
    """The findings of a ``DescribeImageScanFindings`` response; raise when the scan failed."""
    status = (response.get("imageScanStatus") or {}).get("status")
    if status != "COMPLETE":
        description = (response.get("imageScanStatus") or {}).get("description", "")
        raise ValueError(f"the image scan is {status!r}, not COMPLETE: {description}")
    findings = (response.get("imageScanFindings") or {}).get("findings") or []
    return [
        Finding(str(item.get("name")), str(item.get("severity", "UNDEFINED")), _package(item))
        for item in findings
    ]


def judge(findings: list[Finding], allowed: list[Allowed]) -> list[Finding]:
    """The findings that fail the deploy: CRITICAL and not allowlisted."""
    tolerated = {entry.id for entry in allowed}
    return [f for f in findings if f.severity in FAILING and f.name not in tolerated]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("findings", type=Path, help="DescribeImageScanFindings output (JSON)")
    options = parser.parse_args(argv)
    try:
        allowed = load_allowlist()
        findings = parse(json.loads(options.findings.read_text()))
    except (AllowlistError, ValueError) as error:
        print(f"ecr findings: {error}", file=sys.stderr)
        return 2
    counts = dict.fromkeys(ORDER, 0)
    rank = {severity: index for index, severity in enumerate(ORDER)}
    for finding in sorted(findings, key=lambda f: rank.get(f.severity, len(ORDER))):
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
        print(f"{finding.severity:<13} {finding.name:<22} {finding.package}")
    summary = ", ".join(f"{n} {severity}" for severity, n in counts.items() if n)
    print(f"ecr findings: {summary or 'none'}")
    failing = judge(findings, allowed)
    if failing:
        names = ", ".join(sorted({f.name for f in failing}))
        print(
            f"ecr findings: {len(failing)} CRITICAL finding(s) not allowlisted ({names}): "
            "update the base image or dependency, or allowlist with a reason and an expiry "
            "in security/vulnerability-allowlist.toml",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
