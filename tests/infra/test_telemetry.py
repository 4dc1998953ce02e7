"""Production telemetry (issue 16): ALB access logs and deletion protection (B18),
RDS Performance Insights, Enhanced Monitoring and query logging (B19).

Built under mocks for every variant; the RDS request fields are validated
against botocore's CreateDBInstance/ModifyDBInstance/ModifyDBParameterGroup
models, and the bucket policy against the IAM policy grammar.
"""

from __future__ import annotations

import json
import re

import pytest

from infra.components.database import (
    MONITORING_MANAGED_POLICY_ARN,
    MONITORING_PRINCIPAL,
    MONITORING_ROLE_PATH,
)
from infra.config import ConfigError
from infra.documents import elb_logs
from tests.infra.aws_models import assert_valid_policy, assert_valid_request
from tests.infra.conftest import BuildStack
from tests.infra.harness import ACCOUNT_ID, REGION, StackResult
from tests.infra.test_config import load

LB = "aws:lb/loadBalancer:LoadBalancer"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


# --- B18: the access-log bucket and the ALB -------------------------------------------


def test_b18_prod_alb_logs_to_the_stack_bucket_and_refuses_deletion(
    build_stack: BuildStack,
) -> None:
    """B18: access logs on, to the shared bucket under `alb`, after its policy exists."""
    prod = build_stack("prod", "fargate")
    alb, bucket = prod.one(LB), prod.one(BUCKET)
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["accessLogs"] == {
        "enabled": True,
        "bucket": bucket.outputs["bucket"],
        "prefix": elb_logs.ACCESS_LOG_PREFIX,
    }
    assert prod.one(BUCKET_POLICY).urn in alb.depends_on
    assert prod.outputs["accessLogBucket"] == bucket.outputs["bucket"]
    assert bucket.outputs["bucket"].startswith(elb_logs.LOG_BUCKET_PREFIX)
    # The bucket is its own shared component, never a child of the compute shape.
    (parent,) = [r for r in prod.ancestors(bucket) if not r.custom][:1]
    assert parent.type == "fastapi-on-aws:accesslogs:AccessLogBucket"


def test_b18_dev_has_neither_access_logs_nor_deletion_protection(build_stack: BuildStack) -> None:
    """dev's written-down exception: no log bucket to pay for, an ALB that can go."""
    dev = build_stack("dev", "fargate")
    alb = dev.one(LB)
    assert alb.inputs["enableDeletionProtection"] is False
    assert "accessLogs" not in alb.inputs
    assert not dev.find(BUCKET)
    assert "accessLogBucket" not in dev.outputs


@pytest.mark.parametrize("compute", ["fargate", "lambda"])
def test_b18_log_bucket_is_private_sse_s3_expiring_and_owner_enforced(
    build_stack: BuildStack, compute: str
) -> None:
    """B18: the bucket's controls, in both shapes (the bucket outlives either)."""
    prod = build_stack("prod", compute)
    bucket = prod.one(BUCKET)
    assert bucket.inputs["forceDestroy"] is False
    assert bucket.inputs["bucketPrefix"] == elb_logs.LOG_BUCKET_PREFIX
    assert "bucket" not in bucket.inputs  # generated from the prefix: never collides
    for token in (PUBLIC_ACCESS, ENCRYPTION, LIFECYCLE, OWNERSHIP, BUCKET_POLICY):
        assert prod.one(token).inputs["bucket"] == bucket.outputs["bucket"], token
    block = prod.one(PUBLIC_ACCESS).inputs
    assert all(
        block[flag] is True
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    (rule,) = prod.one(ENCRYPTION).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert prod.one(OWNERSHIP).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (lifecycle,) = prod.one(LIFECYCLE).inputs["rules"]
    assert lifecycle["status"] == "Enabled"
    assert lifecycle["expiration"]["days"] == 365  # prod's logRetentionDays
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] > 0
    assert lifecycle["abortIncompleteMultipartUpload"]["daysAfterInitiation"] > 0
    # Versioning stays off (no versioning resource at all).
    assert not prod.find(VERSIONING)


def test_b18_force_destroy_only_in_dev(build_stack: BuildStack) -> None:
    """A dev stack that turns access logs on can still be destroyed with its logs."""
    dev = build_stack("dev", "fargate", albAccessLogs=True)
    assert dev.one(BUCKET).inputs["forceDestroy"] is True
    assert dev.one(LB).inputs["accessLogs"]["enabled"] is True
    assert dev.one(LIFECYCLE).inputs["rules"][0]["expiration"]["days"] == 14


def _bucket_policy(result: StackResult) -> dict[str, object]:
    document: dict[str, object] = json.loads(result.one(BUCKET_POLICY).inputs["policy"])
    return document


def test_b18_bucket_policy_admits_exactly_the_regions_elb_account_and_denies_plain_http(
    build_stack: BuildStack,
) -> None:
    """B18: one allow (the eu-west-1 ELB account, PutObject, this prefix), one TLS deny."""
    prod = build_stack("prod", "fargate")
    name = prod.one(BUCKET).outputs["bucket"]
    document = _bucket_policy(prod)
    assert_valid_policy(document, resource_policy=True)
    statements = document["Statement"]
    assert isinstance(statements, list)
    allow, deny = statements
    assert allow == {
        "Sid": "AlbLogDelivery",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::156460612806:root"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/alb/AWSLogs/{ACCOUNT_ID}/*",
    }
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(deny["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}


def test_b18_principal_table_covers_the_stack_regions() -> None:
    """The region table is data: both stacks' regions are in it, eu-west-1 is AWS's
    account, a post-August-2022 region gets the service principal, others are refused."""
    assert REGION in elb_logs.ELB_LOG_ACCOUNTS
    for stack in ("dev", "prod"):
        assert load(stack).region in elb_logs.supported_regions()
    assert elb_logs.ELB_LOG_ACCOUNTS["eu-west-1"] == "156460612806"
    assert all(re.fullmatch(r"\d{12}", a) for a in elb_logs.ELB_LOG_ACCOUNTS.values())
    assert len(set(elb_logs.ELB_LOG_ACCOUNTS.values())) == len(elb_logs.ELB_LOG_ACCOUNTS)
    assert not set(elb_logs.ELB_LOG_ACCOUNTS) & set(elb_logs.LOG_DELIVERY_SERVICE_REGIONS)
    assert elb_logs.log_delivery_principal("eu-central-2") == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }
    with pytest.raises(ValueError, match="no ALB log-delivery principal"):
        elb_logs.log_delivery_principal("xx-nowhere-1")
    with pytest.raises(ConfigError, match="albAccessLogs"):
        load("prod", **{"aws:region": "us-gov-west-1", "certificateArn": None, "allowHttp": True})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("albAccessLogs", False),
        ("albDeletionProtection", False),
        ("dbPerformanceInsights", False),
        ("dbMonitoringIntervalSeconds", 0),
        ("dbLogMinDurationMs", -1),
        ("dbLogMinDurationMs", 5000),
    ],
)
def test_b18_b19_prod_refuses_telemetry_off(key: str, value: object) -> None:
    """StackConfig refuses a production stack that turns telemetry off, naming the key."""
    with pytest.raises(ConfigError, match=key):
        load("prod", **{key: value})


def test_b19_config_defaults_and_stack_values() -> None:
    """dev runs on the defaults (1000 ms, no PI, no Enhanced Monitoring); prod 500 ms, 60 s."""
    dev, prod = load("dev"), load("prod")
    assert (dev.db_log_min_duration_ms, prod.db_log_min_duration_ms) == (1000, 500)
    assert (dev.db_monitoring_interval_seconds, prod.db_monitoring_interval_seconds) == (0, 60)
    assert (dev.db_performance_insights, prod.db_performance_insights) == (False, True)
    with pytest.raises(ConfigError, match="dbMonitoringIntervalSeconds"):
        load("dev", dbMonitoringIntervalSeconds=45)


# --- B19: RDS telemetry -------------------------------------------------------------


def _rds_request(inputs: dict[str, object]) -> dict[str, object]:
    """The telemetry members of the RDS API request the provider builds from ``inputs``."""
    request: dict[str, object] = {
        "EnablePerformanceInsights": inputs["performanceInsightsEnabled"],
        "MonitoringInterval": int(inputs["monitoringInterval"]),  # type: ignore[call-overload]
        "EnableIAMDatabaseAuthentication": inputs["iamDatabaseAuthenticationEnabled"],
    }
    if "performanceInsightsRetentionPeriod" in inputs:
        request["PerformanceInsightsRetentionPeriod"] = int(
            inputs["performanceInsightsRetentionPeriod"]  # type: ignore[call-overload]
        )
    if "monitoringRoleArn" in inputs:
        request["MonitoringRoleArn"] = inputs["monitoringRoleArn"]
    if "enabledCloudwatchLogsExports" in inputs:
        request["EnableCloudwatchLogsExports"] = inputs["enabledCloudwatchLogsExports"]
    return request


def test_b19_rds_telemetry_fields_validate_against_botocore(variant: StackResult) -> None:
    """B19/B20: CreateDBInstance and ModifyDBInstance accept the telemetry fields as built."""
    db = variant.one(INSTANCE).inputs
    fields = _rds_request(db)
    assert_valid_request(
        "rds",
        "CreateDBInstance",
        {
            "DBInstanceIdentifier": db["identifier"],
            "DBInstanceClass": db["instanceClass"],
            "Engine": db["engine"],
            **fields,
        },
    )
    modify = {
        ("CloudwatchLogsExportConfiguration" if k == "EnableCloudwatchLogsExports" else k): (
            {"EnableLogTypes": v} if k == "EnableCloudwatchLogsExports" else v
        )
        for k, v in fields.items()
    }
    assert_valid_request(
        "rds", "ModifyDBInstance", {"DBInstanceIdentifier": db["identifier"], **modify}
    )
    assert db["iamDatabaseAuthenticationEnabled"] is True
    if variant.stack == "prod":
        assert db["performanceInsightsEnabled"] is True
        assert db["performanceInsightsRetentionPeriod"] == 7
        assert db["monitoringInterval"] == 60
        assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    else:
        assert db["performanceInsightsEnabled"] is False
        assert "performanceInsightsRetentionPeriod" not in db
        assert db["monitoringInterval"] == 0
        assert "monitoringRoleArn" not in db
        assert not variant.find(ROLE, "database-monitoring-role")


def test_b19_monitoring_role_trusts_rds_monitoring_with_the_managed_policy(
    build_stack: BuildStack,
) -> None:
    """B19: its own role, on the path the deploy role may pass, trusted by RDS monitoring."""
    prod = build_stack("prod", "lambda")
    role = prod.one(ROLE, "database-monitoring-role")
    assert role.inputs["path"] == MONITORING_ROLE_PATH
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert_valid_policy(trust, trust=True)
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": MONITORING_PRINCIPAL}]
    attachment = prod.one(ATTACHMENT, "database-monitoring-managed")
    assert attachment.inputs["policyArn"] == MONITORING_MANAGED_POLICY_ARN
    db = prod.one(INSTANCE)
    assert db.inputs["monitoringRoleArn"] == role.outputs["arn"]
    assert attachment.urn in db.depends_on


def _parameters(result: StackResult) -> dict[str, dict[str, str]]:
    return {p["name"]: p for p in result.one(PARAMETER_GROUP).inputs["parameters"]}


def test_b19_parameter_group_logs_slow_statements_ddl_and_lock_waits(
    variant: StackResult,
) -> None:
    """B19: the existing TLS group gains the logging parameters, valid for the RDS API."""
    parameters = _parameters(variant)
    expected_ms = "500" if variant.stack == "prod" else "1000"
    assert parameters["rds.force_ssl"]["value"] == "1"
    assert parameters["log_min_duration_statement"]["value"] == expected_ms
    assert parameters["log_statement"]["value"] == "ddl"
    assert parameters["log_lock_waits"]["value"] == "1"
    assert {p["applyMethod"] for p in parameters.values()} == {"immediate"}
    assert_valid_request(
        "rds",
        "ModifyDBParameterGroup",
        {
            "DBParameterGroupName": variant.one(PARAMETER_GROUP).outputs["name"],
            "Parameters": [
                {
                    "ParameterName": p["name"],
                    "ParameterValue": p["value"],
                    "ApplyMethod": p["applyMethod"],
                }
                for p in parameters.values()
            ],
        },
    )


def test_b19_telemetry_settings_change_nothing_but_inputs(build_stack: BuildStack) -> None:
    """C2 for the new keys: turning telemetry on or retuning it keeps every URN that
    existed (it only adds the monitoring role), so nothing is replaced by a rename."""
    base = build_stack("dev", "fargate")
    tuned = build_stack(
        "dev",
        "fargate",
        dbLogMinDurationMs=250,
        dbPerformanceInsights=True,
        dbMonitoringIntervalSeconds=30,
        albDeletionProtection=True,
    )
    before, after = {r.urn for r in base.resources}, {r.urn for r in tuned.resources}
    assert before <= after
    assert {r.name for r in tuned.resources if r.urn not in before} == {
        "database-monitoring-role",
        "database-monitoring-managed",
    }
    assert _parameters(tuned)["log_min_duration_statement"]["value"] == "250"
    assert (
        tuned.one(PARAMETER_GROUP).inputs["description"]
        == (base.one(PARAMETER_GROUP).inputs["description"])
    )
