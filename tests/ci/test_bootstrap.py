"""The bootstrap program under Pulumi mocks: CI's deploy role is GitHub OIDC
scoped to this repository (INVARIANT B11, last clause), and no CI role gets
admin rights or ``*`` actions (B11)."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pulumi
import pytest

from bootstrap import documents
from bootstrap.config import BootstrapConfig
from bootstrap.documents import (
    deploy_role_policy,
    environment_subject,
    github_trust_policy,
    parse_repository,
    preview_role_policy,
    pull_request_subject,
)
from bootstrap.program import BootstrapOutputs, build

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
        r":(Create|Delete|Put|Update|Modify|Attach|Detach|Authorize|Revoke|Tag|Untag|Encrypt)"
    )
    # The only writes a preview may make: its lock file in the state bucket.
    state_write = next(s for s in _all_statements(preview) if s.get("Sid") == "StateWrite")
    assert state_write["Resource"] == f"{bucket_arn}/.pulumi/locks/*"
    assert sorted(a for a in allowed if writes.search(a)) == ["s3:DeleteObject", "s3:PutObject"]
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
    assert "s3:::" not in permissions["policy"], "no state bucket access without a bucket"


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
}


def _stack_resource_types() -> set[str]:
    """Every provider resource type of every stack variant the program can build."""
    from unittest import mock

    from infra import mocks as infra_mocks
    from tests.infra.test_domain import DOMAIN, ZONE, DomainMocks

    variants: list[tuple[str, str, dict[str, object]]] = [
        (stack, compute, {}) for stack in ("dev", "prod") for compute in ("fargate", "lambda")
    ]
    for compute in ("fargate", "lambda"):
        # prod's stack file sets a certificateArn placeholder: drop it for a managed one.
        variants.append(
            ("prod", compute, {"domainName": DOMAIN, "hostedZoneId": ZONE, "certificateArn": None})
        )
        variants.append(("dev", compute, {"natStrategy": "none", "vpcEndpoints": True}))
    types: set[str] = set()
    with mock.patch.object(infra_mocks, "RecordingMocks", DomainMocks):
        for stack, compute, overrides in variants:
            config = infra_mocks.layered_config(stack, compute, overrides)
            result = infra_mocks.run_program(stack, config)
            types |= {record.type for record in result.custom_resources}
    return types


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
    document = deploy_role_policy(
        account_id=ACCOUNT, state_bucket_arn="arn:aws:s3:::b", state_key_arn="k"
    )
    types = _stack_resource_types()
    # The variants must reach the optional resources, or the check is hollow.
    for expected in (
        "aws:acm/certificate:Certificate",
        "aws:route53/record:Record",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:lambda/function:Function",
        "aws:ecs/service:Service",
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
