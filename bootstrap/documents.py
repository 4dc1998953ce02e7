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

# The grant constants are re-exported: bootstrap's program and tests read them here.
from bootstrap.deploy_grants import APP_PARAMETER_PREFIX as APP_PARAMETER_PREFIX
from bootstrap.deploy_grants import LOG_BUCKET_ACTIONS as LOG_BUCKET_ACTIONS
from bootstrap.deploy_grants import LOG_BUCKET_PREFIX as LOG_BUCKET_PREFIX
from bootstrap.deploy_grants import LOG_OBJECT_ACTIONS as LOG_OBJECT_ACTIONS
from bootstrap.deploy_grants import MONITORING_ROLE_PATH as MONITORING_ROLE_PATH
from bootstrap.deploy_grants import PASSABLE_TO_SERVICES as PASSABLE_TO_SERVICES
from bootstrap.deploy_grants import SERVICE_LINKED_ROLE_SERVICES as SERVICE_LINKED_ROLE_SERVICES
from bootstrap.deploy_grants import (
    acm_statements,
    cloudwatch_statements,
    cognito_statements,
    ec2_statements,
    ecr_statements,
    ecs_statements,
    elasticloadbalancing_statements,
    iam_statements,
    kms_statements,
    lambda_statements,
    logs_statements,
    rds_statements,
    route53_statements,
    s3_statements,
    secretsmanager_statements,
    service_linked_role_statements,
    sns_statements,
    ssm_statements,
)
from infra.documents.iam import PolicyDocument, Statement, policy, statement

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
# IAM path shared by every role bootstrap/ creates, so the deploy roles can be
# denied any change to them (no self-escalation).
CI_ROLE_PATH = "/github-actions/"
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


def _guard_rail_statements(account_id: str, state_key_arn: str | None) -> list[Statement]:
    """The explicit denies (IAM and KMS) that no allow, now or later, can override."""
    statements = [
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

    The allow statements come one helper per AWS service from
    :mod:`bootstrap.deploy_grants`; a few grant two services one feature needs
    together (ECS with its auto scaling, Lambda with API Gateway, RDS with
    ElastiCache): splitting them would only add characters towards IAM's
    inline limit. The order below is the document's statement order.
    """
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    return policy(
        [
            *ec2_statements(),
            *elasticloadbalancing_statements(),
            *ecs_statements(),
            *cloudwatch_statements(),
            *sns_statements(account_id),
            *kms_statements(account_id),
            *acm_statements(account_id),
            *route53_statements(),
            *ecr_statements(),
            *lambda_statements(),
            *rds_statements(),
            *logs_statements(),
            *ssm_statements(account_id),
            *secretsmanager_statements(account_id),
            *iam_statements(account_id),
            *s3_statements(),
            *service_linked_role_statements(account_id),
            *_state_statements(state_bucket_arn, state_key_arn, read_only=False),
            *_guard_rail_statements(account_id, state_key_arn),
        ]
    )


def deploy_identity_policy(*, account_id: str) -> PolicyDocument:
    """The deploy role's second document, a managed policy: the Cognito pool (B21)."""
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    return policy(cognito_statements(account_id))


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
