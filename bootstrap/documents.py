"""IAM documents for the CI roles, as plain data (INVARIANT B11).

Pure functions: no Pulumi runtime, no AWS calls, so every trust condition and
every granted action can be asserted in a unit test. Allow statements are built
with :func:`infra.documents.iam.statement`, which already refuses ``*`` and ``service:*``
actions; this module adds what that helper does not cover: the GitHub OIDC
federated trust policy and the explicit ``Deny`` guard rails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from infra.documents.iam import PolicyDocument, Statement, policy, statement

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
# IAM path shared by every role bootstrap/ creates, so the deploy roles can be
# denied any change to them (no self-escalation).
CI_ROLE_PATH = "/github-actions/"
# Every SSM parameter the application stacks own (docs/contracts.md).
APP_PARAMETER_PREFIX = "/fastapi-on-aws/"
# The ALB access-log buckets' name prefix (infra/documents/elb_logs.py LOG_BUCKET_PREFIX):
# the deploy role's S3 grant on them is scoped to it, and it is disjoint from the
# state bucket's prefix, so the grant never reaches the state.
LOG_BUCKET_PREFIX = "fastapi-on-aws-alb-logs-"
# The IAM path of the RDS Enhanced Monitoring role (infra/components/database.py):
# the deploy role may pass roles on it, and only those, without naming a service.
MONITORING_ROLE_PATH = "/fastapi-on-aws/rds-monitoring/"
# What creating, reading, updating and deleting a log bucket and its
# configuration resources takes (IAM names: the Put*/Get* configuration
# permissions also cover the matching Delete* APIs).
LOG_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:GetBucket*",
    "s3:GetAccelerateConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketTagging",
)
# force_destroy (dev) empties the bucket before deleting it.
LOG_OBJECT_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion")
# Services that may be handed a role by the deploy role (iam:PassRole).
PASSABLE_TO_SERVICES = (
    "ecs-tasks.amazonaws.com",
    "lambda.amazonaws.com",
    "rds.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
    "application-autoscaling.amazonaws.com",
)
# Service-linked roles the stacks' services create on first use in an account
# (the caller of the first create needs iam:CreateServiceLinkedRole for them).
SERVICE_LINKED_ROLE_SERVICES = (
    "ecs.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
    "elasticache.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    # AWSServiceRoleForAPIGateway: made with the account's first API or custom domain.
    "ops.apigateway.amazonaws.com",
)
# Where Pulumi's DIY backend keeps everything in the bucket (pulumi/pulumi
# pkg/backend/diy: workspace.BookkeepingDir). Locks live under
# .pulumi/locks/organization/<project>/<stack>/<lock id>.json, the state at
# .pulumi/stacks/<project>/<stack>.json, with history/ and backups/ beside it.
DIY_BOOKKEEPING_DIR = ".pulumi"
# What the deploy role may do to the stack's own KMS keys but never to the
# state key (denied by NoChangesToStateKey).
KEY_MANAGEMENT_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:DisableKeyRotation",
    "kms:ScheduleKeyDeletion",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
)
# AWS managed policies no role the deploy role touches may ever receive.
FORBIDDEN_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
)

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_REPO_NAME = r"[A-Za-z0-9._-]{1,100}"
_REPOSITORY_RE = re.compile(rf"^{_OWNER}/{_REPO_NAME}$")
_ENVIRONMENT_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


def parse_repository(value: str) -> str:
    """Validate a GitHub ``owner/name``; wildcards and bare owners are refused."""
    if not _REPOSITORY_RE.fullmatch(value) or value.split("/")[1] in {".", ".."}:
        raise ValueError(
            f"githubRepository must be 'owner/name' (letters, digits, '-', '.', '_'; "
            f"no wildcards), got {value!r}"
        )
    return value


def parse_environment(value: str) -> str:
    """Validate a GitHub environment name as it appears in an OIDC subject."""
    if not _ENVIRONMENT_RE.fullmatch(value):
        raise ValueError(
            f"deployEnvironments entries must be GitHub environment names "
            f"(letters, digits, '.', '_', '-'), got {value!r}"
        )
    return value


def environment_subject(repository: str, environment: str) -> str:
    """OIDC ``sub`` of a job that runs in a GitHub environment of the repository."""
    return f"repo:{parse_repository(repository)}:environment:{parse_environment(environment)}"


def pull_request_subject(repository: str) -> str:
    """OIDC ``sub`` of a job triggered by a pull request of the repository."""
    return f"repo:{parse_repository(repository)}:pull_request"


def github_trust_policy(provider_arn: str, subjects: Sequence[str]) -> PolicyDocument:
    """Trust policy: only GitHub OIDC tokens for STS with one of ``subjects``.

    ``StringEquals`` on both claims: no pattern matching, so no other
    repository, branch, environment or event can ever match.
    """
    if not provider_arn.startswith("arn:") or ":oidc-provider/" not in provider_arn:
        raise ValueError(f"{provider_arn!r} is not an IAM OIDC provider ARN")
    if not subjects:
        raise ValueError("a GitHub trust policy needs at least one subject")
    for subject in subjects:
        if not subject.startswith("repo:") or any(c in subject for c in "*?"):
            raise ValueError(f"OIDC subject {subject!r} must be an exact 'repo:owner/name:…'")
    trust: Statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": subjects[0] if len(subjects) == 1 else list(subjects),
            }
        },
    }
    return policy([trust])


def _deny(actions: Sequence[str], resources: Sequence[str], *, sid: str, **extra: Any) -> Statement:
    """An explicit ``Deny``: it wins over any allow attached now or later."""
    doc: Statement = {
        "Sid": sid,
        "Effect": "Deny",
        "Action": sorted(set(actions)),
        "Resource": list(resources) if len(resources) > 1 else resources[0],
    }
    doc.update(extra)
    return doc


def _state_statements(
    state_bucket_arn: str | None, state_key_arn: str | None, *, read_only: bool
) -> list[Statement]:
    """Access to the Pulumi state bucket and the key that encrypts it and stack secrets.

    ``read_only`` (the preview role): list and read, never write. The DIY
    backend's ``Preview`` takes no lock and persists nothing (pulumi/pulumi
    #8642, ``pkg/backend/diy/backend.go``), so no write is ever needed and PR
    code cannot create or delete the lock a running ``pulumi up`` holds.
    Otherwise (the deploy roles): also write and delete the lock, the
    checkpoint, its ``.bak`` copy, history and backups (all under
    :data:`DIY_BOOKKEEPING_DIR`).
    """
    statements: list[Statement] = []
    if state_bucket_arn is not None:
        # ListBucket: the backend finds the stack file (.json/.json.gz) and the
        # locks by listing, and a GetObject/HeadObject of a missing key is a 404
        # rather than a 403 only with it.
        statements.append(
            statement(
                ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetBucketVersioning"],
                [state_bucket_arn],
                sid="StateBucketList",
            )
        )
        # GetObject also authorises HeadObject and the source side of CopyObject.
        statements.append(statement(["s3:GetObject"], [f"{state_bucket_arn}/*"], sid="StateRead"))
        if not read_only:
            # The bucket holds nothing but Pulumi state; the whole of it, so a
            # backend URL with a path prefix (s3://bucket/prefix) works too.
            statements.append(
                statement(
                    ["s3:PutObject", "s3:DeleteObject"], [f"{state_bucket_arn}/*"], sid="StateWrite"
                )
            )
    if state_key_arn is not None:
        # Every object is SSE-KMS with this key (bucket default encryption):
        # reading one needs kms:Decrypt, writing one kms:GenerateDataKey (and
        # Decrypt too for a multipart upload). The awskms secrets provider
        # decrypts the stack's data key with Decrypt; Encrypt is for a new one.
        key_actions = ["kms:Decrypt", "kms:DescribeKey"]
        if not read_only:
            key_actions += ["kms:Encrypt", "kms:GenerateDataKey"]
        statements.append(statement(key_actions, [state_key_arn], sid="StateSecrets"))
    return statements


def deploy_role_policy(
    *,
    account_id: str,
    state_bucket_arn: str | None = None,
    state_key_arn: str | None = None,
) -> PolicyDocument:
    """What ``pulumi up`` of the application stack needs, and nothing like admin.

    Broad by necessity (it creates a VPC, load balancer, ECS or Lambda, RDS,
    ElastiCache, ECR, SSM parameters, log groups and IAM roles), but every
    action is named per service and verb, IAM is limited to this account and
    guarded by explicit denies: no admin managed policy can be attached, and
    the CI roles and the OIDC provider themselves cannot be changed.
    """
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    iam_roles = f"arn:aws:iam::{account_id}:role/*"
    iam_policies = f"arn:aws:iam::{account_id}:policy/*"
    statements = [
        statement(
            [
                "ec2:Describe*",
                "ec2:Get*",
                "ec2:Create*",
                "ec2:Delete*",
                "ec2:Modify*",
                "ec2:Associate*",
                "ec2:Disassociate*",
                "ec2:Attach*",
                "ec2:Detach*",
                "ec2:Allocate*",
                "ec2:Release*",
                "ec2:Replace*",
                "ec2:Authorize*",
                "ec2:Revoke*",
                "ec2:UpdateSecurityGroupRuleDescriptions*",
            ],
            ["*"],
            sid="Network",
        ),
        statement(
            [
                "elasticloadbalancing:Describe*",
                "elasticloadbalancing:Create*",
                "elasticloadbalancing:Delete*",
                "elasticloadbalancing:Modify*",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
                "elasticloadbalancing:Set*",
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
            ],
            ["*"],
            sid="LoadBalancing",
        ),
        statement(
            [
                "ecs:Describe*",
                "ecs:List*",
                "ecs:Create*",
                "ecs:Delete*",
                "ecs:Update*",
                "ecs:RegisterTaskDefinition",
                "ecs:DeregisterTaskDefinition",
                "ecs:PutClusterCapacityProviders",
                "ecs:TagResource",
                "ecs:UntagResource",
                "application-autoscaling:Describe*",
                "application-autoscaling:Register*",
                "application-autoscaling:Deregister*",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
                "application-autoscaling:ListTagsForResource",
            ],
            ["*"],
            sid="Containers",
        ),
        statement(
            [
                "cloudwatch:Describe*",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:PutDashboard",
                "cloudwatch:GetDashboard",
                "cloudwatch:DeleteDashboards",
                "cloudwatch:ListDashboards",
            ],
            ["*"],
            sid="Alarms",
        ),
        statement(
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:GetSubscriptionAttributes",
                "sns:SetSubscriptionAttributes",
                "sns:ListSubscriptionsByTopic",
            ],
            [f"arn:aws:sns:*:{account_id}:*"],
            sid="AlarmTopics",
        ),
        # CreateKey has no resource to scope to; everything after it is limited
        # to keys of this account (the state key is guarded by a deny below).
        statement(["kms:CreateKey", "kms:ListKeys", "kms:ListAliases"], ["*"], sid="NewKeys"),
        statement(
            [
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:PutKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:EnableKeyRotation",
                "kms:DisableKeyRotation",
                "kms:ListResourceTags",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:UpdateKeyDescription",
                "kms:ScheduleKeyDeletion",
            ],
            [f"arn:aws:kms:*:{account_id}:key/*"],
            sid="AppKeys",
        ),
        # RequestCertificate cannot be scoped to a resource; the rest can.
        statement(["acm:RequestCertificate"], ["*"], sid="NewCertificates"),
        statement(
            [
                "acm:DescribeCertificate",
                "acm:DeleteCertificate",
                "acm:AddTagsToCertificate",
                "acm:RemoveTagsFromCertificate",
                "acm:ListTagsForCertificate",
            ],
            [f"arn:aws:acm:*:{account_id}:certificate/*"],
            sid="AppCertificates",
        ),
        # Route 53 ARNs carry no account. AssociateVPCWithHostedZone: interface
        # VPC endpoints with private DNS attach the VPC to AWS's private zone.
        statement(
            [
                "route53:GetHostedZone",
                "route53:ListResourceRecordSets",
                "route53:ChangeResourceRecordSets",
                "route53:AssociateVPCWithHostedZone",
            ],
            ["arn:aws:route53:::hostedzone/*"],
            sid="DnsRecords",
        ),
        statement(["route53:GetChange"], ["arn:aws:route53:::change/*"], sid="DnsChanges"),
        statement(
            [
                "ecr:GetAuthorizationToken",
                "ecr:Describe*",
                "ecr:List*",
                "ecr:Get*",
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:PutLifecyclePolicy",
                "ecr:DeleteLifecyclePolicy",
                "ecr:SetRepositoryPolicy",
                "ecr:DeleteRepositoryPolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                "ecr:BatchDeleteImage",
            ],
            ["*"],
            sid="Registry",
        ),
        statement(
            [
                "lambda:Get*",
                "lambda:List*",
                "lambda:Create*",
                "lambda:Delete*",
                "lambda:Update*",
                "lambda:Publish*",
                "lambda:Put*",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:InvokeFunction",
                "apigateway:GET",
                "apigateway:POST",
                "apigateway:PUT",
                "apigateway:PATCH",
                "apigateway:DELETE",
                "apigateway:TagResource",
                "apigateway:UntagResource",
            ],
            ["*"],
            sid="Serverless",
        ),
        statement(
            [
                "rds:Describe*",
                "rds:List*",
                "rds:Create*",
                "rds:Delete*",
                "rds:Modify*",
                "rds:AddTagsToResource",
                "rds:RemoveTagsFromResource",
                "rds:RebootDBInstance",
                "rds:RegisterDBProxyTargets",
                "rds:DeregisterDBProxyTargets",
                "elasticache:Describe*",
                "elasticache:List*",
                "elasticache:Create*",
                "elasticache:Delete*",
                "elasticache:Modify*",
                "elasticache:AddTagsToResource",
                "elasticache:RemoveTagsFromResource",
            ],
            ["*"],
            sid="Data",
        ),
        statement(
            [
                "logs:Describe*",
                "logs:List*",
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:TagLogGroup",
                "logs:UntagLogGroup",
                "logs:AssociateKmsKey",
                "logs:DisassociateKmsKey",
                # The HTTP API stage's access logs are a vended log delivery.
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
            ],
            ["*"],
            sid="Logs",
        ),
        statement(["ssm:DescribeParameters"], ["*"], sid="ParametersList"),
        statement(
            [
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:PutParameter",
                "ssm:DeleteParameter",
                "ssm:AddTagsToResource",
                "ssm:RemoveTagsFromResource",
                "ssm:ListTagsForResource",
            ],
            [f"arn:aws:ssm:*:{account_id}:parameter{APP_PARAMETER_PREFIX}*"],
            sid="AppParameters",
        ),
        statement(
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
                "secretsmanager:GetResourcePolicy",
            ],
            [f"arn:aws:secretsmanager:*:{account_id}:secret:*"],
            sid="ProxySecrets",
        ),
        statement(
            [
                "iam:GetRole",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:ListInstanceProfilesForRole",
            ],
            [iam_roles],
            sid="AppRoles",
        ),
        statement(
            ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions"],
            [iam_policies, "arn:aws:iam::aws:policy/*"],
            sid="ReadPolicies",
        ),
        statement(
            [
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            [iam_policies],
            sid="AppPolicies",
        ),
        statement(
            ["iam:PassRole"],
            [iam_roles],
            sid="PassAppRoles",
            condition={"StringEquals": {"iam:PassedToService": list(PASSABLE_TO_SERVICES)}},
        ),
        # RDS Enhanced Monitoring's role is passed on CreateDBInstance /
        # ModifyDBInstance; scoped to its own path rather than to a service.
        statement(
            ["iam:PassRole"],
            [f"arn:aws:iam::{account_id}:role{MONITORING_ROLE_PATH}*"],
            sid="PassMonitoringRole",
        ),
        # One statement for the buckets and their objects: IAM's 10,240-character
        # inline limit is close (tests/ci/test_bootstrap.py).
        statement(
            [*LOG_BUCKET_ACTIONS, *LOG_OBJECT_ACTIONS],
            [f"arn:aws:s3:::{LOG_BUCKET_PREFIX}*", f"arn:aws:s3:::{LOG_BUCKET_PREFIX}*/*"],
            sid="LogBuckets",
        ),
        statement(
            ["iam:CreateServiceLinkedRole"],
            [f"arn:aws:iam::{account_id}:role/aws-service-role/*"],
            sid="ServiceLinkedRoles",
            condition={"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLE_SERVICES)}},
        ),
        *_state_statements(state_bucket_arn, state_key_arn, read_only=False),
        _deny(
            ["iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"],
            ["*"],
            sid="NoAdminPolicies",
            Condition={"ArnEquals": {"iam:PolicyARN": list(FORBIDDEN_MANAGED_POLICIES)}},
        ),
        _deny(
            [
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PassRole",
                "iam:PutRolePermissionsBoundary",
                "iam:DeleteRolePermissionsBoundary",
            ],
            [f"arn:aws:iam::{account_id}:role{CI_ROLE_PATH}*"],
            sid="NoChangesToCiRoles",
        ),
        _deny(
            [
                "iam:CreateOpenIDConnectProvider",
                "iam:DeleteOpenIDConnectProvider",
                "iam:UpdateOpenIDConnectProviderThumbprint",
                "iam:AddClientIDToOpenIDConnectProvider",
                "iam:RemoveClientIDFromOpenIDConnectProvider",
            ],
            ["*"],
            sid="NoChangesToIdentityProviders",
        ),
        # A key policy that locks out the account cannot be undone: refuse it.
        _deny(
            ["kms:CreateKey", "kms:PutKeyPolicy"],
            ["*"],
            sid="NoKeyLockout",
            Condition={"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
        ),
    ]
    if state_key_arn is not None:
        # The key that encrypts every stack secret is bootstrap's, never CI's to manage.
        statements.append(
            _deny(
                list(KEY_MANAGEMENT_ACTIONS),
                [state_key_arn],
                sid="NoChangesToStateKey",
            )
        )
    return policy(statements)


# Reads that would reveal a secret value: a pull request's preview never needs
# them (it diffs against the state), so they are denied outright.
SECRET_READ_ACTIONS = (
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "secretsmanager:GetSecretValue",
)


def preview_role_policy(
    *, state_bucket_arn: str | None = None, state_key_arn: str | None = None
) -> PolicyDocument:
    """Read-only access for ``pulumi preview`` on pull requests.

    Describe/List/Get on the services the stack uses, ECR's login token (the
    program's ``aws.ecr.get_authorization_token`` invoke runs on preview too;
    a preview build with ``buildOnPreview`` stays on the runner's Docker
    daemon and never pushes), and reading the state. No write to any AWS
    resource or to the state bucket, and an explicit deny on reading secret
    values (which is also why previews do not refresh: docs/ci-cd.md).
    """
    statements = [
        statement(
            [
                "ec2:Describe*",
                "elasticloadbalancing:Describe*",
                "ecs:Describe*",
                "ecs:List*",
                "application-autoscaling:Describe*",
                "cloudwatch:Describe*",
                "ecr:GetAuthorizationToken",
                "ecr:Describe*",
                "ecr:List*",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:BatchCheckLayerAvailability",
                "lambda:GetFunction",
                "lambda:GetPolicy",
                "lambda:List*",
                "apigateway:GET",
                "rds:Describe*",
                "rds:ListTagsForResource",
                "elasticache:Describe*",
                "elasticache:ListTagsForResource",
                "logs:Describe*",
                "logs:ListTagsForResource",
                "logs:ListTagsLogGroup",
                "ssm:DescribeParameters",
                "ssm:ListTagsForResource",
                "secretsmanager:DescribeSecret",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
            ],
            ["*"],
            sid="ReadOnly",
        ),
        *_state_statements(state_bucket_arn, state_key_arn, read_only=True),
        _deny(list(SECRET_READ_ACTIONS), ["*"], sid="NoSecretValues"),
    ]
    return policy(statements)
