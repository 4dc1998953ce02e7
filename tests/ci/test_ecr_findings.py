"""ECR scan-on-push findings after `up dev`: CRITICAL fails unless allowlisted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from scripts import ecr_findings
from scripts.audit import Allowed


def _response(*findings: tuple[str, str, str], status: str = "COMPLETE") -> dict[str, Any]:
    """A DescribeImageScanFindings response, using only members of botocore's model."""
    return {
        "registryId": "123456789012",
        "repositoryName": "registry-repository-abc",
        "imageId": {"imageDigest": "sha256:" + "0" * 64},
        "imageScanStatus": {"status": status, "description": "The scan was completed."},
        "imageScanFindings": {
            "findingSeverityCounts": {},
            "findings": [
                {
                    "name": name,
                    "severity": severity,
                    "uri": f"https://security-tracker.debian.org/tracker/{name}",
                    "attributes": [
                        {"key": "package_name", "value": package},
                        {"key": "package_version", "value": "1.0"},
                    ],
                }
                for name, severity, package in findings
            ],
        },
    }


def test_the_sample_uses_the_shape_ecr_returns() -> None:
    """Keys of the sample are members of botocore's DescribeImageScanFindings output."""
    model = botocore.session.get_session().get_service_model("ecr")
    output = model.operation_model("DescribeImageScanFindings").output_shape
    sample = _response(("CVE-1", "HIGH", "openssl"))
    assert set(sample) <= set(output.members)
    findings_shape = output.members["imageScanFindings"]
    assert set(sample["imageScanFindings"]) <= set(findings_shape.members)
    finding_shape = findings_shape.members["findings"].member
    assert set(sample["imageScanFindings"]["findings"][0]) <= set(finding_shape.members)


def _run(tmp_path: Path, response: dict[str, Any]) -> int:
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(response))
    return ecr_findings.main([str(path)])


def test_high_and_below_are_reported_not_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tmp_path, _response(("CVE-2026-1", "HIGH", "openssl"))) == 0
    assert "CVE-2026-1" in capsys.readouterr().out


def test_a_critical_finding_fails_and_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = _response(("CVE-2026-9", "CRITICAL", "zlib"), ("CVE-2026-2", "LOW", "bash"))
    assert _run(tmp_path, response) == 1
    assert "CVE-2026-9" in capsys.readouterr().err


def test_an_allowlisted_critical_finding_passes() -> None:
    findings = ecr_findings.parse(_response(("CVE-2026-9", "CRITICAL", "zlib")))
    allowed = [Allowed("CVE-2026-9", "zlib", "not reachable: no zlib input", dt.date(2027, 1, 1))]
    assert ecr_findings.judge(findings, allowed) == []
    assert ecr_findings.judge(findings, []) == findings


def test_an_incomplete_scan_is_an_error_not_a_pass(tmp_path: Path) -> None:
    assert _run(tmp_path, _response(status="FAILED")) == 2
