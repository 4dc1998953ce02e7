"""The deploy role and the telemetry resources of issue 16 (INVARIANTS B11, B18, B19).

The ALB access-log bucket, the RDS monitoring role and the smoke test's token
read need grants of their own; these tests ask the small IAM evaluator of
tests/ci/test_bootstrap.py whether exactly those requests are allowed, and
that nothing more reaches the state bucket than before.
"""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap import documents
from bootstrap.documents import deploy_role_policy, preview_role_policy
from infra.components import database
from infra.documents import elb_logs
from tests.ci.test_bootstrap import (
    ACCOUNT,
    STATE_BUCKET_ARN,
    STATE_KEY_ARN,
    Request,
    _all_statements,
    evaluate,
)
from tests.infra.harness import build_stack

LOG_BUCKET = f"arn:aws:s3:::{elb_logs.LOG_BUCKET_PREFIX}aec50d17840cd376389488568b"


def _deploy() -> dict[str, Any]:
    return deploy_role_policy(
        account_id=ACCOUNT, state_bucket_arn=STATE_BUCKET_ARN, state_key_arn=STATE_KEY_ARN
    )


def _without(document: dict[str, Any], *sids: str) -> dict[str, Any]:
    return {
        **document,
        "Statement": [s for s in _all_statements(document) if s.get("Sid") not in sids],
    }


def test_bootstrap_constants_match_the_program() -> None:
    """The role's scopes name what the program really creates."""
    assert documents.LOG_BUCKET_PREFIX == elb_logs.LOG_BUCKET_PREFIX
    assert documents.MONITORING_ROLE_PATH == database.MONITORING_ROLE_PATH
    prod = build_stack("prod", "fargate")
    bucket = prod.one("aws:s3/bucket:Bucket").outputs["bucket"]
    assert bucket.startswith(documents.LOG_BUCKET_PREFIX)
    role = prod.one("aws:iam/role:Role", "database-monitoring-role").outputs["arn"]
    assert f":role{documents.MONITORING_ROLE_PATH}" in role


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        *((action, LOG_BUCKET) for action in documents.LOG_BUCKET_ACTIONS if "*" not in action),
        ("s3:GetBucketPolicy", LOG_BUCKET),
        ("s3:GetBucketPublicAccessBlock", LOG_BUCKET),
        ("s3:GetBucketOwnershipControls", LOG_BUCKET),
        *((action, f"{LOG_BUCKET}/alb/AWSLogs/x") for action in documents.LOG_OBJECT_ACTIONS),
    ],
)
def test_b11_deploy_role_manages_the_log_bucket(action: str, resource: str) -> None:
    """B18 through B11: every call the bucket's resources make is allowed on it."""
    assert evaluate(Request(action, resource), _deploy()) == "Allow"


@pytest.mark.parametrize(
    "action",
    [
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:DeleteBucket",
        "s3:PutEncryptionConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:DeleteObjectVersion",
        "s3:ListBucketVersions",
        "s3:GetBucketPolicy",
    ],
)
def test_b11_log_bucket_grant_never_widens_access_to_the_state_bucket(action: str) -> None:
    """The state bucket's verdicts are the same with and without the log-bucket grant,
    and the destructive ones are refused."""
    full, before = _deploy(), _without(_deploy(), "LogBuckets")
    for resource in (STATE_BUCKET_ARN, f"{STATE_BUCKET_ARN}/.pulumi/stacks/x.json"):
        request = Request(action, resource)
        assert evaluate(request, full) == evaluate(request, before), request
    if action != "s3:GetBucketPolicy":
        assert evaluate(Request(action, STATE_BUCKET_ARN), full) != "Allow"
    # A bucket outside the prefix is untouched as well.
    assert evaluate(Request(action, "arn:aws:s3:::someone-elses-bucket"), full) != "Allow"


def test_b11_deploy_role_may_pass_exactly_the_monitoring_role() -> None:
    """B19: iam:PassRole for the monitoring role's path (whatever service RDS names),
    no other role to RDS monitoring, and never a CI role."""
    document = _deploy()
    role = f"arn:aws:iam::{ACCOUNT}:role{documents.MONITORING_ROLE_PATH}database-monitoring-role-1"
    context = (("iam:PassedToService", "monitoring.rds.amazonaws.com"),)
    assert evaluate(Request("iam:PassRole", role, context), document) == "Allow"
    other = f"arn:aws:iam::{ACCOUNT}:role/app-task-role-1"
    assert evaluate(Request("iam:PassRole", other, context), document) == "ImplicitDeny"
    ci = f"arn:aws:iam::{ACCOUNT}:role{documents.CI_ROLE_PATH}deploy-dev"
    assert evaluate(Request("iam:PassRole", ci, context), document) == "ExplicitDeny"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_b11_deploy_role_reads_the_smoke_token_and_the_preview_role_does_not(stack: str) -> None:
    """The smoke step reads the API token with the job's deploy role (GetParameter with
    decryption: SSM decrypts with the aws/ssm key on the caller's behalf); a pull
    request's preview role may not read it."""
    name = build_stack(stack, "fargate").outputs["ssmParameterNames"]["API_TOKEN"]
    arn = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter{name}"
    assert evaluate(Request("ssm:GetParameter", arn), _deploy()) == "Allow"
    preview = preview_role_policy(state_bucket_arn=STATE_BUCKET_ARN, state_key_arn=STATE_KEY_ARN)
    assert evaluate(Request("ssm:GetParameter", arn), preview) == "ExplicitDeny"
