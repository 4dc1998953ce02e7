"""The bootstrap program under Pulumi mocks: CI's deploy role is GitHub OIDC
scoped to this repository (INVARIANT B11, last clause), and no CI role gets
admin rights or ``*`` actions (B11)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import botocore.session
import pulumi
import pytest

from bootstrap import documents
from bootstrap.config import BootstrapConfig
from bootstrap.documents import (
    deploy_identity_policy,
    deploy_role_policy,
    environment_subject,
    github_trust_policy,
    parse_repository,
    preview_role_policy,
    pull_request_subject,
)
from bootstrap.program import BootstrapOutputs, build
from infra.documents.iam import to_json
from tests.infra import harness

ACCOUNT = "123456789012"
REPO = "example-org/fastapi-on-aws"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
HOST = "token.actions.githubusercontent.com"


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers every resource and invoke, and records the inputs sent to AWS."""

    def __init__(self) -> None:
        self.resources: dict[str, tuple[str, dict[str, Any]]] = {}
        self.calls: list[str] = []
        # Logical names registered with protect=True (seen by a stack transformation).
        self.protected: set[str] = set()

    def watch_protect(self, args: pulumi.ResourceTransformationArgs) -> None:
        """Stack transformation recording which resources ask for protect=True."""
        if args.opts.protect:
            self.protected.add(args.name)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Computed outputs the real provider would return (ARNs, ids)."""
        self.resources[args.name] = (args.typ, dict(args.inputs))
        state = dict(args.inputs)
        if args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            state["arn"] = OIDC_ARN
        elif args.typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:role{args.inputs['path']}{args.name}-abc123"
        elif args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = f"{args.inputs['bucketPrefix']}abc123"
            state["arn"] = f"arn:aws:s3:::{state['bucket']}"
        elif args.typ == "aws:kms/key:Key":
            state["keyId"] = "1234abcd-12ab-34cd-56ef-1234567890ab"
            state["arn"] = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{state['keyId']}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        """Only the caller identity is invoked."""
        self.calls.append(args.token)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return (
                {
                    "accountId": ACCOUNT,
                    "arn": f"arn:aws:iam::{ACCOUNT}:user/admin",
                    "userId": "AIDA",
                    "id": ACCOUNT,
                },
                [],
            )
        raise AssertionError(f"unexpected invoke {args.token}")


@pytest.fixture
def mocks() -> RecordingMocks:
    """Fresh mocks for every test, project and stack named like the real ones."""
    recorder = RecordingMocks()
    harness.ensure_event_loop()
    pulumi.runtime.set_mocks(recorder, project="fastapi-on-aws-bootstrap", stack="github")
    return recorder


def _by_type(mocks: RecordingMocks, typ: str) -> dict[str, dict[str, Any]]:
    return {name: inputs for name, (t, inputs) in mocks.resources.items() if t == typ}


def _all_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def assert_no_admin(document: dict[str, Any]) -> None:
    """B11: no Allow of ``*`` or ``service:*``, and no admin managed policy."""
    for stmt in _all_statements(document):
        if stmt["Effect"] != "Allow":
            continue
        assert "NotAction" not in stmt, stmt
        for action in _as_list(stmt["Action"]):
            assert action != "*", stmt
            assert not action.endswith(":*"), f"service-wide wildcard {action}"
    assert "AdministratorAccess" not in json.dumps(
        [s for s in _all_statements(document) if s["Effect"] == "Allow"]
    )


def assert_github_trust(document: dict[str, Any], expected_subject: str) -> None:
    """B11: only GitHub's OIDC provider, audience STS, this repo's exact subject."""
    (stmt,) = _all_statements(document)
    assert stmt["Effect"] == "Allow"
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Principal"] == {"Federated": OIDC_ARN}
    assert set(stmt["Condition"]) == {"StringEquals"}, "no StringLike: no pattern can widen it"
    claims = stmt["Condition"]["StringEquals"]
    assert claims[f"{HOST}:aud"] == "sts.amazonaws.com"
    subjects = _as_list(claims[f"{HOST}:sub"])
    assert subjects == [expected_subject]
    for subject in subjects:
        # Never the whole org, never a wildcard anywhere in the subject.
        assert subject.startswith(f"repo:{REPO}:")
        assert "*" not in subject
        assert "?" not in subject


@pulumi.runtime.test
def test_b11_deploy_roles_trust_only_this_repository_and_environment(
    mocks: RecordingMocks,
) -> Any:
    """One deploy role per environment, each trusting exactly its environment's subject."""
    outputs = build(BootstrapConfig(github_repository=REPO))

    def check(arns: list[str]) -> None:
        providers = _by_type(mocks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
        (provider,) = providers.values()
        assert provider["url"] == "https://token.actions.githubusercontent.com"
        assert provider["clientIdLists"] == ["sts.amazonaws.com"]

        roles = _by_type(mocks, "aws:iam/role:Role")
        assert set(roles) == {
            "github-ci-deploy-dev",
            "github-ci-deploy-production",
            "github-ci-preview",
        }
        for environment in ("dev", "production"):
            role = roles[f"github-ci-deploy-{environment}"]
            assert role["path"] == "/github-actions/"
            assert "managedPolicyArns" not in role or not role["managedPolicyArns"]
            assert_github_trust(
                json.loads(role["assumeRolePolicy"]), f"repo:{REPO}:environment:{environment}"
            )
        assert_github_trust(
            json.loads(roles["github-ci-preview"]["assumeRolePolicy"]),
            f"repo:{REPO}:pull_request",
        )
        assert all(arn.startswith(f"arn:aws:iam::{ACCOUNT}:role/github-actions/") for arn in arns)

    return pulumi.Output.all(
        *outputs.access.deploy_role_arns.values(), outputs.access.preview_role_arn
    ).apply(check)


def deploy(mocks: RecordingMocks, config: BootstrapConfig) -> BootstrapOutputs:
    """Run the program under the mocks until every registration has completed.

    ``pulumi.runtime.test`` awaits the returned Output and then every pending
    resource RPC, so afterwards the mocks hold the resolved inputs of all
    resources, exactly as they would be sent to AWS.
    """
    built: list[BootstrapOutputs] = []

    @pulumi.runtime.test
    def run() -> Any:
        pulumi.runtime.register_stack_transformation(mocks.watch_protect)
        built.append(build(config))
        return pulumi.Output.all(*built[0].access.deploy_role_arns.values())

    run()
    return built[0]


def test_b11_role_permissions_have_no_admin_and_guard_the_ci_roles(mocks: RecordingMocks) -> None:
    """Inline policies as sent to AWS: named actions only, denies on self-escalation."""
    deploy(mocks, BootstrapConfig(github_repository=REPO))
    (bucket,) = _by_type(mocks, "aws:s3/bucket:Bucket").values()
    assert bucket["bucketPrefix"] == "fastapi-on-aws-pulumi-state-"
    bucket_arn = "arn:aws:s3:::fastapi-on-aws-pulumi-state-abc123"
    key_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    policies = _by_type(mocks, "aws:iam/rolePolicy:RolePolicy")
    assert set(policies) == {
        "github-ci-deploy-dev-permissions",
        "github-ci-deploy-production-permissions",
        "github-ci-preview-permissions",
    }
    for name, inputs in policies.items():
        text = inputs["policy"]
        # Inline role policies are capped at 10,240 characters by IAM.
        assert len(text) < 10_240, name
        document = json.loads(text)
        assert_no_admin(document)
        assert bucket_arn in text, "state bucket access must be granted"
        assert key_arn in text, "state key access must be granted"

    deploy_doc = json.loads(policies["github-ci-deploy-production-permissions"]["policy"])
    denies = {s["Sid"]: s for s in _all_statements(deploy_doc) if s["Effect"] == "Deny"}
    assert (
        denies["NoChangesToCiRoles"]["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/github-actions/*"
    )
    assert "iam:UpdateAssumeRolePolicy" in denies["NoChangesToCiRoles"]["Action"]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in json.dumps(
        denies["NoAdminPolicies"]["Condition"]
    )
    pass_role = next(s for s in _all_statements(deploy_doc) if s.get("Sid") == "PassAppRoles")
    assert "iam:PassedToService" in pass_role["Condition"]["StringEquals"]

    preview = json.loads(policies["github-ci-preview-permissions"]["policy"])
    allowed = [
        a for s in _all_statements(preview) if s["Effect"] == "Allow" for a in _as_list(s["Action"])
    ]
    writes = re.compile(
        r":(Create|Delete|Put|Update|Modify|Attach|Detach|Authorize|Revoke|Tag|Untag|Encrypt"
        r"|GenerateDataKey)"
    )
    # A DIY preview takes no lock and saves nothing: the preview role writes nowhere,
    # not even in the state bucket (test_preview_role_writes_nothing_in_the_state_bucket).
    assert not any(s.get("Sid") == "StateWrite" for s in _all_statements(preview))
    assert sorted(a for a in allowed if writes.search(a)) == []
    no_secrets = next(s for s in _all_statements(preview) if s.get("Sid") == "NoSecretValues")
    assert no_secrets["Effect"] == "Deny"
    assert "ssm:GetParameters" in no_secrets["Action"]


def test_state_backend_is_private_versioned_encrypted_and_protected(mocks: RecordingMocks) -> None:
    """The S3 backend: versioned, KMS, no public access, TLS only; key rotates."""
    outputs = deploy(mocks, BootstrapConfig(github_repository=REPO))
    assert outputs.state is not None
    (versioning,) = _by_type(mocks, "aws:s3/bucketVersioning:BucketVersioning").values()
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    (block,) = _by_type(mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").values()
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True, flag
    (sse,) = _by_type(
        mocks,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).values()
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    (bucket_policy,) = _by_type(mocks, "aws:s3/bucketPolicy:BucketPolicy").values()
    tls = json.loads(bucket_policy["policy"])["Statement"][0]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (key,) = _by_type(mocks, "aws:kms/key:Key").values()
    assert key["enableKeyRotation"] is True
    # protect=True on the bucket and the key: losing the state orphans everything.
    assert mocks.protected >= {"pulumi-state-bucket", "pulumi-state-secrets-key"}


def test_pulumi_cloud_backend_and_existing_provider_create_neither(mocks: RecordingMocks) -> None:
    """stateBackend=pulumi-cloud: no bucket or key; an existing provider is reused."""
    outputs = deploy(
        mocks,
        BootstrapConfig(
            github_repository=REPO,
            deploy_environments=("production",),
            preview_role=False,
            state_backend="pulumi-cloud",
            existing_oidc_provider_arn=OIDC_ARN,
        ),
    )
    assert outputs.state is None
    assert outputs.access.preview_role_arn is None
    types = {t for t, _ in mocks.resources.values()}
    assert "aws:s3/bucket:Bucket" not in types
    assert "aws:kms/key:Key" not in types
    assert "aws:iam/openIdConnectProvider:OpenIdConnectProvider" not in types
    (role,) = _by_type(mocks, "aws:iam/role:Role").values()
    assert_github_trust(json.loads(role["assumeRolePolicy"]), f"repo:{REPO}:environment:production")
    (permissions,) = _by_type(mocks, "aws:iam/rolePolicy:RolePolicy").values()
    # The only S3 grant left is the one on the stacks' ALB log buckets.
    state_access = permissions["policy"].replace(f"arn:aws:s3:::{documents.LOG_BUCKET_PREFIX}", "")
    assert "s3:::" not in state_access, "no state bucket access without a bucket"


@pulumi.runtime.test
def test_config_is_read_from_the_stack_and_validated(mocks: RecordingMocks) -> Any:
    """BootstrapConfig.load() reads the project namespace, lists included."""
    pulumi.runtime.set_all_config(
        {
            "fastapi-on-aws-bootstrap:githubRepository": REPO,
            "fastapi-on-aws-bootstrap:deployEnvironments": '["staging", "production"]',
            "fastapi-on-aws-bootstrap:previewRole": "false",
            "fastapi-on-aws-bootstrap:stateBackend": "pulumi-cloud",
        }
    )
    try:
        config = BootstrapConfig.load()
    finally:
        pulumi.runtime.set_all_config({})
    assert config == BootstrapConfig(
        github_repository=REPO,
        deploy_environments=("staging", "production"),
        preview_role=False,
        state_backend="pulumi-cloud",
    )
    return pulumi.Output.from_input(config.github_repository).apply(lambda r: r == REPO)


@pytest.mark.parametrize(
    "repository",
    [
        "example-org",
        "example-org/*",
        "*/*",
        "example-org/repo/extra",
        "",
        "-bad/repo",
        "org/..",
        "org/re po",
    ],
)
def test_b11_repository_must_be_one_exact_owner_and_name(repository: str) -> None:
    """A whole org, a wildcard or a malformed value never becomes a trust subject."""
    with pytest.raises(ValueError, match="githubRepository must be 'owner/name'"):
        parse_repository(repository)
    with pytest.raises(ValueError, match="githubRepository"):
        BootstrapConfig(github_repository=repository)


def test_b11_trust_policy_refuses_wildcard_or_foreign_subjects() -> None:
    """The document builder itself refuses any subject pattern."""
    for subject in ("repo:example-org/*", "repo:example-org/*:ref:refs/heads/main", "*", "org:x"):
        with pytest.raises(ValueError, match="exact"):
            github_trust_policy(OIDC_ARN, [subject])
    with pytest.raises(ValueError, match="OIDC provider ARN"):
        github_trust_policy("arn:aws:iam::123456789012:role/x", [pull_request_subject(REPO)])
    assert environment_subject(REPO, "production") == f"repo:{REPO}:environment:production"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "githubRepository is required"),
        (
            {"githubRepository": REPO, "stateBackend": "gcs"},
            "stateBackend must be one of s3, pulumi-cloud",
        ),
        ({"githubRepository": REPO, "deployEnvironments": []}, "at least one"),
        ({"githubRepository": REPO, "deployEnvironments": "dev"}, "must be a list"),
        ({"githubRepository": REPO, "deployEnvironments": ["dev", "dev"]}, "duplicates"),
        ({"githubRepository": REPO, "deployEnvironments": ["prod*"]}, "environment names"),
        ({"githubRepository": REPO, "previewRole": "yes"}, "previewRole must be true or false"),
        (
            {"githubRepository": REPO, "existingOidcProviderArn": "arn:aws:iam::1:oidc-provider/x"},
            "existingOidcProviderArn",
        ),
        ({"githubRepository": REPO, "githubRepo": REPO}, "unknown config keys"),
    ],
)
def test_bad_config_names_the_key_and_what_is_allowed(values: dict[str, Any], message: str) -> None:
    """Every config error says which key is wrong and what it accepts."""
    with pytest.raises(ValueError, match=re.escape(message)):
        BootstrapConfig.from_values(values)


# IAM prefix -> botocore service, for the action-name check below.
_BOTOCORE_SERVICE = {
    "ec2": "ec2",
    "elasticloadbalancing": "elbv2",
    "ecs": "ecs",
    "application-autoscaling": "application-autoscaling",
    "cloudwatch": "cloudwatch",
    "ecr": "ecr",
    "lambda": "lambda",
    "rds": "rds",
    "elasticache": "elasticache",
    "logs": "logs",
    "ssm": "ssm",
    "secretsmanager": "secretsmanager",
    "iam": "iam",
    "s3": "s3",
    "kms": "kms",
    "sns": "sns",
    "acm": "acm",
    "route53": "route53",
}
# IAM permissions that are not named after an API operation.
_NON_API_PERMISSIONS = {
    "iam:PassRole",
    "s3:ListBucket",
    # S3 permissions named differently from their API operations (ListObjectVersions,
    # Get/PutBucketAccelerateConfiguration, ...Encryption, ...Lifecycle..., ...Replication,
    # PutPublicAccessBlock).
    "s3:ListBucketVersions",
    "s3:DeleteObjectVersion",
    "s3:GetAccelerateConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "lambda:InvokeFunction",
    "apigateway:GET",
    "apigateway:POST",
    "apigateway:PUT",
    "apigateway:PATCH",
    "apigateway:DELETE",
    "apigateway:TagResource",
    "apigateway:UntagResource",
    # Vended-log permissions (HTTP API access logs): no API operation of their own.
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
}


def test_every_action_names_a_real_api_operation() -> None:
    """A typo in an action name would silently grant nothing: check each one against
    botocore's service models (wildcards must match at least one operation)."""
    session = botocore.session.get_session()
    operations: dict[str, list[str]] = {}
    documents_to_check = [
        deploy_role_policy(
            account_id=ACCOUNT, state_bucket_arn="arn:aws:s3:::b", state_key_arn="k"
        ),
        preview_role_policy(state_bucket_arn="arn:aws:s3:::b", state_key_arn="k"),
    ]
    actions = {
        action
        for document in documents_to_check
        for stmt in _all_statements(document)
        for action in _as_list(stmt["Action"])
    }
    assert len(actions) > 100
    for action in sorted(actions):
        if action in _NON_API_PERMISSIONS:
            continue
        prefix, _, name = action.partition(":")
        service = _BOTOCORE_SERVICE[prefix]
        if service not in operations:
            operations[service] = session.get_service_model(service).operation_names
        pattern = re.compile("^" + re.escape(name).replace(r"\*", ".*") + "$")
        assert any(pattern.match(op) for op in operations[service]), (
            f"{action} matches no operation"
        )


def test_deploy_policy_refuses_a_bad_account_id() -> None:
    """The account id lands in resource ARNs: it must be 12 digits."""
    with pytest.raises(ValueError, match="12 digits"):
        deploy_role_policy(account_id="12345")
    assert documents.CI_ROLE_PATH == "/github-actions/"


# Every provider module the application stack may create resources of, and
# the deploy-role actions its create/read/delete cycle needs. A resource type
# of a module missing here fails the test below until the role is reviewed
# for it (INVARIANT B11: CI can deploy exactly what the program builds).
_MODULE_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws:acm": (
        "acm:RequestCertificate",
        "acm:DescribeCertificate",
        "acm:DeleteCertificate",
        "acm:AddTagsToCertificate",
        "acm:ListTagsForCertificate",
    ),
    "aws:apigatewayv2": ("apigateway:POST", "apigateway:GET", "apigateway:DELETE"),
    "aws:appautoscaling": (
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
        "application-autoscaling:DescribeScalingPolicies",
    ),
    "aws:cloudwatch": (
        # Log groups live in this module too.
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:DescribeLogGroups",
        "logs:PutRetentionPolicy",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:PutDashboard",
        "cloudwatch:GetDashboard",
        "cloudwatch:DeleteDashboards",
        "cloudwatch:ListDashboards",
    ),
    "aws:ec2": (
        "ec2:CreateVpc",
        "ec2:DeleteVpc",
        "ec2:DescribeVpcs",
        "ec2:CreateVpcEndpoint",
        "ec2:DeleteVpcEndpoints",
        "ec2:AllocateAddress",
        "ec2:ReleaseAddress",
        "ec2:CreateNatGateway",
        "ec2:CreateFlowLogs",
        "ec2:DeleteFlowLogs",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
    ),
    "aws:ecr": (
        "ecr:CreateRepository",
        "ecr:DeleteRepository",
        "ecr:DescribeRepositories",
        "ecr:PutLifecyclePolicy",
        "ecr:DeleteLifecyclePolicy",
        "ecr:GetLifecyclePolicy",
    ),
    "aws:ecs": (
        "ecs:CreateCluster",
        "ecs:DeleteCluster",
        "ecs:DescribeClusters",
        "ecs:CreateService",
        "ecs:DeleteService",
        "ecs:DescribeServices",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
    ),
    # The Cognito pool of authCognito, granted by the role's managed policy (B21).
    "aws:cognito": (
        "cognito-idp:CreateUserPool",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:UpdateUserPool",
        "cognito-idp:DeleteUserPool",
        "cognito-idp:GetUserPoolMfaConfig",
        "cognito-idp:SetUserPoolMfaConfig",
        "cognito-idp:TagResource",
        "cognito-idp:UntagResource",
        "cognito-idp:ListTagsForResource",
    ),
    "aws:elasticache": (
        "elasticache:CreateReplicationGroup",
        "elasticache:DeleteReplicationGroup",
        "elasticache:DescribeReplicationGroups",
        "elasticache:CreateCacheSubnetGroup",
        "elasticache:DeleteCacheSubnetGroup",
    ),
    "aws:iam": (
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:GetRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:PassRole",
    ),
    "aws:kms": (
        "kms:CreateKey",
        "kms:DescribeKey",
        "kms:ScheduleKeyDeletion",
        "kms:GetKeyPolicy",
        "kms:EnableKeyRotation",
        "kms:GetKeyRotationStatus",
    ),
    "aws:lambda": (
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "lambda:GetFunction",
        "lambda:CreateAlias",
        "lambda:DeleteAlias",
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:InvokeFunction",
    ),
    "aws:lb": (
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:DeleteListener",
    ),
    "aws:rds": (
        "rds:CreateDBInstance",
        "rds:DeleteDBInstance",
        "rds:DescribeDBInstances",
        "rds:CreateDBParameterGroup",
        "rds:DeleteDBParameterGroup",
        "rds:CreateDBSubnetGroup",
        "rds:CreateDBProxy",
        "rds:DeleteDBProxy",
        "rds:DescribeDBProxies",
        "rds:RegisterDBProxyTargets",
        "rds:DeregisterDBProxyTargets",
        # The restore (dbRestoreSource, docs/runbook.md).
        "rds:RestoreDBInstanceFromDBSnapshot",
        "rds:RestoreDBInstanceToPointInTime",
    ),
    # The ALB access-log bucket and its configuration resources (B18).
    "aws:s3": (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ListBucket",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketTagging",
        "s3:GetBucketTagging",
    ),
    "aws:route53": (
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",
        "route53:ListResourceRecordSets",
        "route53:GetHostedZone",
    ),
    "aws:secretsmanager": (
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
    ),
    "aws:sns": (
        "sns:CreateTopic",
        "sns:DeleteTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
    ),
    "aws:ssm": ("ssm:PutParameter", "ssm:DeleteParameter", "ssm:GetParameter"),
    "aws:vpc": (
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:DescribeSecurityGroupRules",
    ),
    # pulumi-docker pushes the image to ECR.
    "docker:index": (
        "ecr:GetAuthorizationToken",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchCheckLayerAvailability",
    ),
    # Computed by the Pulumi engine alone: no AWS call.
    "random:index": (),
}
# Extra actions some resource types need beyond their module's create/delete.
_TYPE_ACTIONS: dict[str, tuple[str, ...]] = {
    # The $default stage's access logs are a vended log delivery.
    "aws:apigatewayv2/stage:Stage": (
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
    ),
    # Interface endpoints with private DNS associate the VPC with AWS's zone.
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("route53:AssociateVPCWithHostedZone",),
    "aws:cognito/resourceServer:ResourceServer": (
        "cognito-idp:CreateResourceServer",
        "cognito-idp:DescribeResourceServer",
        "cognito-idp:UpdateResourceServer",
        "cognito-idp:DeleteResourceServer",
    ),
    "aws:cognito/userPoolDomain:UserPoolDomain": (
        "cognito-idp:CreateUserPoolDomain",
        "cognito-idp:DescribeUserPoolDomain",
        "cognito-idp:UpdateUserPoolDomain",
        "cognito-idp:DeleteUserPoolDomain",
    ),
    "aws:cognito/userPoolClient:UserPoolClient": (
        "cognito-idp:CreateUserPoolClient",
        "cognito-idp:DescribeUserPoolClient",
        "cognito-idp:UpdateUserPoolClient",
        "cognito-idp:DeleteUserPoolClient",
    ),
}


@functools.cache
def _stack_resource_types() -> frozenset[str]:
    """Every provider resource type of every stack variant the program can build
    (cached: building eight variants under mocks is the slow part of this file)."""
    from unittest import mock

    from infra.tooling import mocks as infra_mocks
    from tests.infra.components.test_domain import DOMAIN, ZONE, DomainMocks

    variants: list[tuple[str, str, dict[str, object]]] = [
        (stack, compute, {}) for stack in ("dev", "prod") for compute in ("fargate", "lambda")
    ]
    for compute in ("fargate", "lambda"):
        # prod's stack file sets a certificateArn placeholder: drop it for a managed one.
        variants.append(
            ("prod", compute, {"domainName": DOMAIN, "hostedZoneId": ZONE, "certificateArn": None})
        )
        variants.append(("dev", compute, {"natStrategy": "none", "vpcEndpoints": True}))
        # The Cognito pool (B21).
        variants.append(("prod", compute, {"authMode": "jwt", "authCognito": True}))
    types: set[str] = set()
    with mock.patch.object(infra_mocks, "RecordingMocks", DomainMocks):
        for stack, compute, overrides in variants:
            config = infra_mocks.layered_config(stack, compute, overrides)
            result = infra_mocks.run_program(stack, config)
            types |= {record.type for record in result.custom_resources}
    return frozenset(types)


def _granted(document: dict[str, Any], action: str) -> bool:
    """Whether an Allow statement names ``action`` (wildcards expanded)."""
    for stmt in _all_statements(document):
        if stmt["Effect"] != "Allow":
            continue
        for granted in _as_list(stmt["Action"]):
            pattern = "^" + re.escape(granted).replace(r"\*", ".*") + "$"
            if re.match(pattern, action, flags=re.IGNORECASE):
                return True
    return False


def test_b11_deploy_role_covers_every_resource_type_the_stack_creates() -> None:
    """Built under mocks in every variant (dev/prod x fargate/lambda, custom domain,
    natStrategy=none with VPC endpoints): each resource type's module must be in
    the table above and each of its actions granted, or the first ``pulumi up``
    from CI would fail with AccessDenied."""
    inline = deploy_role_policy(
        account_id=ACCOUNT, state_bucket_arn="arn:aws:s3:::b", state_key_arn="k"
    )
    # The role's inline policy and its managed one (bootstrap/program.py) together.
    managed = deploy_identity_policy(account_id=ACCOUNT)
    document = {**inline, "Statement": [*inline["Statement"], *managed["Statement"]]}
    types = _stack_resource_types()
    # The variants must reach the optional resources, or the check is hollow.
    for expected in (
        "aws:acm/certificate:Certificate",
        "aws:route53/record:Record",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:lambda/function:Function",
        "aws:ecs/service:Service",
        "aws:cognito/userPoolClient:UserPoolClient",
    ):
        assert expected in types, expected
    unknown = sorted(t for t in types if t.split("/")[0] not in _MODULE_ACTIONS)
    assert not unknown, f"add these modules to _MODULE_ACTIONS and the deploy role: {unknown}"
    missing = sorted(
        f"{type_}: {action}"
        for type_ in types
        for action in (*_MODULE_ACTIONS[type_.split("/")[0]], *_TYPE_ACTIONS.get(type_, ()))
        if not _granted(document, action)
    )
    assert not missing, "the deploy role lacks:\n" + "\n".join(missing)


def test_b11_deploy_role_manages_app_keys_but_never_the_state_key() -> None:
    """The stack's alarm-topic key is CI's to create and retire; the state key is not."""
    key_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    document = deploy_role_policy(account_id=ACCOUNT, state_key_arn=key_arn)
    assert _granted(document, "kms:ScheduleKeyDeletion")
    denies = {s["Sid"]: s for s in _all_statements(document) if s["Effect"] == "Deny"}
    guard = denies["NoChangesToStateKey"]
    assert guard["Resource"] == key_arn
    assert {"kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"} <= set(guard["Action"])
    assert denies["NoKeyLockout"]["Condition"] == {
        "Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}
    }


# --- a small IAM evaluator ------------------------------------------------------
#
# Enough of IAM's evaluation logic to ask "is this request allowed?" of the
# documents above: Action/NotAction and Resource/NotResource with `*` and `?`
# wildcards (actions case-insensitive, resources case-sensitive), explicit Deny
# over Allow over the implicit deny, and the condition operators the documents
# use (StringEquals, StringLike, ArnEquals, ArnLike, Bool), evaluated against
# the request context given; a key missing from the context fails its
# condition, as in IAM. It refuses (raises on) what it does not implement
# rather than skip it: other operators, ...IfExists, ForAnyValue/ForAllValues,
# policy variables (${...}), a resource policy's Principal other than "*".
# It ignores, and so cannot catch: SCPs, permissions boundaries, session
# policies, the KMS key policy (the state key keeps the default key policy,
# which delegates to IAM) and S3 ACLs (BucketOwnerEnforced disables them).

_SUPPORTED_OPERATORS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool"}


@dataclass(frozen=True)
class Request:
    """One authorisation request: an IAM action on a resource ARN, with context keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


def _wildcard(pattern: str, value: str, *, ignore_case: bool) -> bool:
    if "${" in pattern:
        raise NotImplementedError(f"policy variables are not evaluated: {pattern}")
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, value, flags=re.IGNORECASE if ignore_case else 0) is not None


def _condition_matches(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, clauses in condition.items():
        if operator not in _SUPPORTED_OPERATORS:
            raise NotImplementedError(f"condition operator {operator} is not evaluated")
        for key, expected in clauses.items():
            if key not in context:
                return False
            actual = context[key]
            values = [str(v) for v in _as_list(expected)]
            if operator in {"StringEquals", "ArnEquals"}:
                hit = actual in values
            elif operator == "Bool":
                hit = actual.lower() in {v.lower() for v in values}
            else:
                hit = any(_wildcard(v, actual, ignore_case=False) for v in values)
            if not hit:
                return False
    return True


def _statement_applies(stmt: dict[str, Any], request: Request) -> bool:
    def any_action(patterns: Any) -> bool:
        return any(_wildcard(p, request.action, ignore_case=True) for p in _as_list(patterns))

    def any_resource(patterns: Any) -> bool:
        return any(_wildcard(p, request.resource, ignore_case=False) for p in _as_list(patterns))

    # NotAction / NotResource: the statement applies to everything they do not name.
    if not (any_action(stmt["Action"]) if "Action" in stmt else not any_action(stmt["NotAction"])):
        return False
    if not (
        any_resource(stmt["Resource"])
        if "Resource" in stmt
        else not any_resource(stmt["NotResource"])
    ):
        return False
    if "Principal" in stmt and stmt["Principal"] != "*":
        raise NotImplementedError(f"principal {stmt['Principal']!r} is not evaluated")
    return _condition_matches(stmt.get("Condition", {}), dict(request.context))


def evaluate(request: Request, *documents: dict[str, Any]) -> str:
    """``"Allow"``, ``"ExplicitDeny"`` or ``"ImplicitDeny"`` for one request.

    The documents are the identity policy and, for same-account requests, any
    resource policy (the state bucket's): an explicit deny in any of them wins,
    otherwise an allow in any of them allows.
    """
    allowed = False
    for document in documents:
        for stmt in _all_statements(document):
            if _statement_applies(stmt, request):
                if stmt["Effect"] == "Deny":
                    return "ExplicitDeny"
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def test_the_evaluator_matches_iam_on_known_cases() -> None:
    """Wildcards, deny over allow, conditions and the implicit deny behave like IAM."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}},
            },
        ],
    }
    assert evaluate(Request("S3:getobject", "arn:aws:s3:::b/x"), document) == "Allow"
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::b/secret/x"), document) == "ExplicitDeny"
    assert evaluate(Request("s3:PutObject", "arn:aws:s3:::b/x"), document) == "ImplicitDeny"
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::B/x"), document) == "ImplicitDeny"
    passed = (("iam:PassedToService", "ecs-tasks.amazonaws.com"),)
    assert evaluate(Request("iam:PassRole", "arn:aws:iam::1:role/r", passed), document) == "Allow"
    assert evaluate(Request("iam:PassRole", "arn:aws:iam::1:role/r"), document) == "ImplicitDeny"
    with pytest.raises(NotImplementedError):
        evaluate(
            Request("s3:GetObject", "arn:aws:s3:::b/x"),
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"StringNotEquals": {"k": "v"}},
                    }
                ]
            },
        )
    # NotAction / NotResource apply to everything they do not name.
    negated = {
        "Statement": [
            {"Effect": "Deny", "NotAction": "s3:GetObject", "NotResource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
        ]
    }
    assert evaluate(Request("s3:PutObject", "arn:aws:s3:::c/x"), negated) == "ExplicitDeny"
    assert evaluate(Request("s3:PutObject", "arn:aws:s3:::b/x"), negated) == "Allow"
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::c/x"), negated) == "Allow"


# --- what the DIY (S3) backend does, as IAM requests ---------------------------
#
# Modelled on pulumi/pulumi pkg/backend/diy (backend.go, lock.go, state.go,
# store.go, meta.go) and gocloud.dev's s3blob driver, which it writes through:
#   ReadAll -> GetObject; Exists/Attributes -> HeadObject (s3:GetObject);
#   List -> ListObjectsV2 (s3:ListBucket); WriteAll -> PutObject or a multipart
#   upload (both s3:PutObject); Copy -> CopyObject (GetObject on the source,
#   PutObject on the destination); Delete -> HeadObject, then DeleteObject.
# SSE-KMS (the bucket default, with the state key): a read needs kms:Decrypt,
# a write kms:GenerateDataKey (plus kms:Decrypt for a multipart upload).

PROJECT = "fastapi-on-aws"
LOCK_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
NANOS = "1767225600000000000"
STATE_BUCKET_ARN = "arn:aws:s3:::fastapi-on-aws-pulumi-state-abc123"
STATE_KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TLS = (("aws:SecureTransport", "true"),)


def diy_keys(stack: str) -> dict[str, str]:
    """The object keys the DIY backend uses for one stack (project-scoped layout, v1)."""
    root = documents.DIY_BOOKKEEPING_DIR
    return {
        "meta": f"{root}/meta.yaml",
        "state": f"{root}/stacks/{PROJECT}/{stack}.json",
        "state_backup": f"{root}/stacks/{PROJECT}/{stack}.json.bak",
        # lock.go: stackLockDir(FullyQualifiedName) = locks/organization/<project>/<stack>
        "lock_dir": f"{root}/locks/organization/{PROJECT}/{stack}/",
        "lock": f"{root}/locks/organization/{PROJECT}/{stack}/{LOCK_ID}.json",
        "history": f"{root}/history/{PROJECT}/{stack}/{stack}-{NANOS}.history.json",
        "history_checkpoint": f"{root}/history/{PROJECT}/{stack}/{stack}-{NANOS}.checkpoint.json",
        "backup": f"{root}/backups/{PROJECT}/{stack}/{stack}.{NANOS}.json",
    }


def _object(key: str) -> str:
    return f"{STATE_BUCKET_ARN}/{key}"


def _list(prefix: str) -> list[Request]:
    return [Request("s3:ListBucket", STATE_BUCKET_ARN, (*TLS, ("s3:prefix", prefix)))]


def _head(key: str) -> list[Request]:
    return [Request("s3:GetObject", _object(key), TLS)]


def _read(key: str) -> list[Request]:
    return [Request("s3:GetObject", _object(key), TLS), Request("kms:Decrypt", STATE_KEY_ARN)]


def _write(key: str) -> list[Request]:
    return [
        Request("s3:PutObject", _object(key), TLS),
        Request("kms:GenerateDataKey", STATE_KEY_ARN),
        Request("kms:Decrypt", STATE_KEY_ARN),
    ]


def _copy(destination: str, source: str) -> list[Request]:
    return [*_read(source), *_write(destination)]


def _delete(key: str) -> list[Request]:
    return [*_head(key), Request("s3:DeleteObject", _object(key), TLS)]


def preview_requests(stack: str) -> dict[str, list[Request]]:
    """What pulumi/actions' ``preview`` does to the backend, step by step.

    diyBackend.Preview runs apply with DryRun: no Lock, no snapshot persister,
    no history or backup (those are guarded by ``!opts.DryRun``).
    """
    k = diy_keys(stack)
    return {
        "login: read .pulumi/meta.yaml": _read(k["meta"]),
        "select the stack: find and check its file": [
            *_list(k["state"]),
            *_head(k["state"]),
        ],
        "load the checkpoint": [*_list(k["state"]), *_read(k["state"])],
        "awskms secrets provider: decrypt the stack's data key": [
            Request("kms:Decrypt", STATE_KEY_ARN)
        ],
        "pulumi/actions reads the stack outputs afterwards": _read(k["state"]),
    }


def up_requests(stack: str) -> dict[str, list[Request]]:
    """What ``pulumi up`` does to the backend: the preview's reads, then lock, save, unlock."""
    k = diy_keys(stack)
    return {
        **preview_requests(stack),
        "lock: look for other locks, write ours, look again": [
            *_list(k["lock_dir"]),
            *_write(k["lock"]),
            *_list(k["lock_dir"]),
        ],
        "lock: read a competing lock to report it (only when one exists)": _read(
            k["lock_dir"] + "other.json"
        ),
        "save a checkpoint: keep the old one as .bak, write the new one": [
            *_list(k["state"]),
            *_head(k["state"]),
            *_copy(k["state_backup"], k["state"]),
            *_write(k["state"]),
        ],
        "history: the update record and a copy of the checkpoint": [
            *_write(k["history"]),
            *_copy(k["history_checkpoint"], k["state"]),
        ],
        "backup: a timestamped copy of the checkpoint": [
            *_read(k["state"]),
            *_write(k["backup"]),
        ],
        "unlock: delete our lock": _delete(k["lock"]),
    }


def _role_documents(
    mocks: RecordingMocks,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(deploy role policy, preview role policy, state bucket policy) as sent to AWS."""
    deploy(mocks, BootstrapConfig(github_repository=REPO))
    policies = _by_type(mocks, "aws:iam/rolePolicy:RolePolicy")
    deploy_doc = json.loads(policies["github-ci-deploy-dev-permissions"]["policy"])
    preview_doc = json.loads(policies["github-ci-preview-permissions"]["policy"])
    (bucket_policy,) = _by_type(mocks, "aws:s3/bucketPolicy:BucketPolicy").values()
    assert STATE_BUCKET_ARN in json.dumps(deploy_doc), "the mocks' bucket ARN changed"
    assert STATE_KEY_ARN in json.dumps(deploy_doc), "the mocks' key ARN changed"
    return deploy_doc, preview_doc, json.loads(bucket_policy["policy"])


def _denied(requests: dict[str, list[Request]], *docs: dict[str, Any]) -> list[str]:
    return [
        f"{step}: {request} -> {verdict}"
        for step, batch in requests.items()
        for request in batch
        if (verdict := evaluate(request, *docs)) != "Allow"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_state_backend_operations_are_allowed_to_the_roles_that_perform_them(
    mocks: RecordingMocks, stack: str
) -> None:
    """Every S3 and KMS request a preview and an up make is allowed, with the bucket
    policy (TLS only) in force: the preview role previews, the deploy role does both."""
    deploy_doc, preview_doc, bucket_doc = _role_documents(mocks)
    assert not _denied(preview_requests(stack), preview_doc, bucket_doc)
    assert not _denied(preview_requests(stack), deploy_doc, bucket_doc)
    denied = _denied(up_requests(stack), deploy_doc, bucket_doc)
    assert not denied, "the deploy role cannot run pulumi up:\n" + "\n".join(denied)
    # The same requests without TLS are refused by the bucket policy.
    insecure = Request(
        "s3:GetObject", _object(diy_keys(stack)["state"]), (("aws:SecureTransport", "false"),)
    )
    assert evaluate(insecure, deploy_doc, bucket_doc) == "ExplicitDeny"


def test_preview_role_writes_nothing_in_the_state_bucket(mocks: RecordingMocks) -> None:
    """No write of the up (lock, checkpoint, history, backup) is allowed to the
    preview role: a preview never needs one, and PR code must not be able to
    drop the lock of a running deploy, plant one, or rewrite the state."""
    _, preview_doc, bucket_doc = _role_documents(mocks)
    writes = {
        step: [r for r in batch if r.action in {"s3:PutObject", "s3:DeleteObject"}]
        for step, batch in up_requests("prod").items()
    }
    assert sum(map(len, writes.values())) >= 7
    for step, batch in writes.items():
        for request in batch:
            assert evaluate(request, preview_doc, bucket_doc) != "Allow", f"{step}: {request}"
    assert evaluate(Request("kms:GenerateDataKey", STATE_KEY_ARN), preview_doc) != "Allow"


def test_every_state_write_a_role_may_make_can_also_be_encrypted(mocks: RecordingMocks) -> None:
    """The bucket's default encryption is SSE-KMS with the state key: a PutObject
    granted without kms:GenerateDataKey on that key fails with AccessDenied anyway.
    No role may hold such a half grant (a preview role allowed to write its lock
    but not to encrypt it could never take the lock)."""
    deploy_doc, preview_doc, bucket_doc = _role_documents(mocks)
    probes = [diy_keys("dev")[name] for name in ("lock", "state", "history", "backup", "meta")]
    for name, doc in (("deploy", deploy_doc), ("preview", preview_doc)):
        can_write = [
            key
            for key in probes
            if evaluate(Request("s3:PutObject", _object(key), TLS), doc, bucket_doc) == "Allow"
        ]
        if can_write:
            assert evaluate(Request("kms:GenerateDataKey", STATE_KEY_ARN), doc) == "Allow", (
                f"the {name} role may write {can_write} but not encrypt them"
            )


# --- service-linked roles --------------------------------------------------------

# Provider module -> the services whose service-linked role creating its
# resources makes AWS create on first use in an account (the caller needs
# iam:CreateServiceLinkedRole), with that role's name. A module of the stack
# missing here fails the test below until someone checks its services.
_MODULE_SERVICE_LINKED_ROLES: dict[str, dict[str, str]] = {
    "aws:ecs": {"ecs.amazonaws.com": "AWSServiceRoleForECS"},
    # The ECS service's scalable target (service namespace "ecs").
    "aws:appautoscaling": {
        "ecs.application-autoscaling.amazonaws.com": (
            "AWSServiceRoleForApplicationAutoScaling_ECSService"
        )
    },
    "aws:lb": {"elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing"},
    # DB instances and the RDS Proxy.
    "aws:rds": {"rds.amazonaws.com": "AWSServiceRoleForRDS"},
    "aws:elasticache": {"elasticache.amazonaws.com": "AWSServiceRoleForElastiCache"},
    # The HTTP API and its custom domain (Lambda shape).
    "aws:apigatewayv2": {"ops.apigateway.amazonaws.com": "AWSServiceRoleForAPIGateway"},
    # No service-linked role: public DNS-validated certificates (ACM's role is
    # only for cross-account Private CA), VPC pieces and flow logs (a passed
    # role), Lambda (its execution role makes the VPC ENIs), and the rest.
    "aws:acm": {},
    "aws:cloudwatch": {},
    "aws:cognito": {},
    "aws:ec2": {},
    "aws:ecr": {},
    "aws:iam": {},
    "aws:kms": {},
    "aws:lambda": {},
    "aws:route53": {},
    "aws:s3": {},
    "aws:secretsmanager": {},
    "aws:sns": {},
    "aws:ssm": {},
    "aws:vpc": {},
    "docker:index": {},
    "random:index": {},
}
# IAM's cap on the aggregate size of a role's inline policies (whitespace not counted).
INLINE_POLICY_LIMIT = 10_240


def _service_linked_role_request(service: str, role_name: str) -> Request:
    return Request(
        "iam:CreateServiceLinkedRole",
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/{role_name}",
        (("iam:AWSServiceName", service),),
    )


def test_b11_deploy_role_may_create_every_service_linked_role_the_stack_triggers() -> None:
    """Each service-linked role a stack variant's resources can trigger (API Gateway's
    included) is allowed through the iam:AWSServiceName condition, and no other."""
    document = deploy_role_policy(
        account_id=ACCOUNT, state_bucket_arn=STATE_BUCKET_ARN, state_key_arn=STATE_KEY_ARN
    )
    modules = {t.split("/")[0] for t in _stack_resource_types()}
    unknown = sorted(modules - set(_MODULE_SERVICE_LINKED_ROLES))
    assert not unknown, f"add these modules to _MODULE_SERVICE_LINKED_ROLES: {unknown}"
    needed = {
        service: role
        for module in modules
        for service, role in _MODULE_SERVICE_LINKED_ROLES[module].items()
    }
    # The variants reach both shapes, so every entry of the table is exercised.
    assert "ops.apigateway.amazonaws.com" in needed
    assert "ecs.amazonaws.com" in needed
    denied = sorted(
        f"{service} ({role}): {verdict}"
        for service, role in needed.items()
        if (verdict := evaluate(_service_linked_role_request(service, role), document)) != "Allow"
    )
    assert not denied, "iam:CreateServiceLinkedRole is refused for:\n" + "\n".join(denied)
    # The condition is live: a service the stack never uses is not allowed.
    other = _service_linked_role_request(
        "autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling"
    )
    assert evaluate(other, document) == "ImplicitDeny"
    assert set(documents.SERVICE_LINKED_ROLE_SERVICES) == set(needed), (
        "SERVICE_LINKED_ROLE_SERVICES grants a role no resource of the stack triggers"
    )


def test_deploy_role_policy_fits_iams_inline_limit_with_the_longest_names() -> None:
    """With the longest bucket name bucket_prefix can produce (prefix + 26 characters)
    the deploy role's one inline policy still fits IAM's 10,240-character limit."""
    longest_bucket = "arn:aws:s3:::fastapi-on-aws-pulumi-state-" + "0" * 26
    text = to_json(
        deploy_role_policy(
            account_id=ACCOUNT, state_bucket_arn=longest_bucket, state_key_arn=STATE_KEY_ARN
        )
    )
    assert len(re.sub(r"\s", "", text)) < INLINE_POLICY_LIMIT, len(text)
