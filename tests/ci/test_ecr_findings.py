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


def test_each_up_job_judges_the_scan_of_the_image_it_deployed() -> None:
    """deploy.yml: after up (and its smoke test), wait for ECR's scan and judge it.

    In up-dev it is a step of the job up-prod needs, so a CRITICAL finding keeps
    the release out of prod. The image comes from the up step's outputs through
    env, never an expression inside `run:`.
    """
    from tests.ci.test_workflows import DEPLOY, jobs

    workflow = jobs(DEPLOY)
    assert "up-dev" in workflow["up-prod"]["needs"]
    for name in ("up-dev", "up-prod"):
        steps = workflow[name]["steps"]
        up_at = next(i for i, s in enumerate(steps) if s.get("id") == "up")
        smoke_at = next(i for i, s in enumerate(steps) if "smoke" in str(s.get("name", "")))
        (scan_at,) = [i for i, s in enumerate(steps) if "scripts.ecr_findings" in str(s.get("run"))]
        assert up_at < smoke_at < scan_at, name
        step = steps[scan_at]
        assert step["env"]["IMAGE_REF"] == "${{ steps.up.outputs.imageRef }}"
        run = str(step["run"])
        assert "${{" not in run
        assert "aws ecr wait image-scan-complete" in run
        assert "aws ecr describe-image-scan-findings" in run


def test_the_deploy_role_may_read_scan_findings() -> None:
    """ecr:DescribeImageScanFindings (the waiter calls it too) on the stack's repository."""
    from bootstrap.documents import deploy_role_policy
    from tests.ci.test_bootstrap import (
        ACCOUNT,
        STATE_BUCKET_ARN,
        STATE_KEY_ARN,
        Request,
        evaluate,
    )

    document = deploy_role_policy(
        account_id=ACCOUNT, state_bucket_arn=STATE_BUCKET_ARN, state_key_arn=STATE_KEY_ARN
    )
    repository = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/registry-repository-abc1234"
    assert evaluate(Request("ecr:DescribeImageScanFindings", repository), document) == "Allow"
