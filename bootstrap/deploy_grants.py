"""The deploy role's allow statements, one helper per AWS service it grants.

:func:`bootstrap.documents.deploy_role_policy` composes them, in a fixed
order, with the state access and the explicit denies. Pure functions, like
that module: no Pulumi runtime, no AWS calls.
"""

from __future__ import annotations

from infra.documents.iam import Statement, statement

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


def ec2_statements() -> list[Statement]:
    """The VPC, subnets, NAT, route tables, endpoints, security groups and flow logs."""
    return [
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
        )
    ]


def elasticloadbalancing_statements() -> list[Statement]:
    """The Fargate variant's load balancer, listeners and target groups."""
    return [
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
        )
    ]


def ecs_statements() -> list[Statement]:
    """The ECS cluster, service and task definitions, and their Application Auto Scaling."""
    return [
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
        )
    ]


def cloudwatch_statements() -> list[Statement]:
    """CloudWatch alarms and the dashboard."""
    return [
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
        )
    ]


def sns_statements(account_id: str) -> list[Statement]:
    """The alarm topics and their subscriptions, in this account."""
    return [
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
        )
    ]


def kms_statements(account_id: str) -> list[Statement]:
    """The stack's own KMS keys (the state key is guarded by a deny in the guard rails)."""
    return [
        # CreateKey has no resource to scope to; everything after it is limited
        # to keys of this account.
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
    ]


def acm_statements(account_id: str) -> list[Statement]:
    """Certificates for the custom domain."""
    return [
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
    ]


def route53_statements() -> list[Statement]:
    """DNS records: the custom domain's alias and the certificate validation records."""
    return [
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
    ]


def ecr_statements() -> list[Statement]:
    """The image repository, its policies, and pushing the image."""
    return [
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
        )
    ]


def lambda_statements() -> list[Statement]:
    """The Lambda variant's functions and the API Gateway HTTP API in front of them."""
    return [
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
        )
    ]


def rds_statements() -> list[Statement]:
    """The database (instance, proxy) and the ElastiCache cache: the stack's data stores."""
    return [
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
                # dbRestoreSource: RestoreDBInstanceFromDBSnapshot / ToPointInTime
                # (a wildcard: the role's inline policy is near IAM's size limit).
                "rds:Restore*",
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
        )
    ]


def logs_statements() -> list[Statement]:
    """CloudWatch log groups and the HTTP API's vended access-log delivery."""
    return [
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
        )
    ]


def ssm_statements(account_id: str) -> list[Statement]:
    """The application's SSM parameters, only under :data:`APP_PARAMETER_PREFIX`."""
    return [
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
    ]


def secretsmanager_statements(account_id: str) -> list[Statement]:
    """The RDS Proxy's database credentials secret, in this account."""
    return [
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
        )
    ]


def iam_statements(account_id: str) -> list[Statement]:
    """The stack's roles and customer managed policies, and passing them to its services."""
    iam_roles = f"arn:aws:iam::{account_id}:role/*"
    iam_policies = f"arn:aws:iam::{account_id}:policy/*"
    return [
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
    ]


def s3_statements() -> list[Statement]:
    """The ALB access-log buckets (the state bucket's grants are in bootstrap/documents.py)."""
    # One statement for the buckets and their objects: IAM's 10,240-character
    # inline limit is close (tests/ci/test_bootstrap.py).
    return [
        statement(
            [*LOG_BUCKET_ACTIONS, *LOG_OBJECT_ACTIONS],
            [f"arn:aws:s3:::{LOG_BUCKET_PREFIX}*", f"arn:aws:s3:::{LOG_BUCKET_PREFIX}*/*"],
            sid="LogBuckets",
        )
    ]


def service_linked_role_statements(account_id: str) -> list[Statement]:
    """IAM: the service-linked roles the stack's services create on first use."""
    return [
        statement(
            ["iam:CreateServiceLinkedRole"],
            [f"arn:aws:iam::{account_id}:role/aws-service-role/*"],
            sid="ServiceLinkedRoles",
            condition={"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLE_SERVICES)}},
        )
    ]


# The Cognito user pool of ``authCognito`` (infra/components/identity.py, B21): the actions
# pulumi-aws calls for the pool, its resource server, domain and app client.
COGNITO_POOL_ACTIONS = (
    "cognito-idp:DescribeUserPool",
    "cognito-idp:UpdateUserPool",
    "cognito-idp:DeleteUserPool",
    "cognito-idp:GetUserPoolMfaConfig",
    "cognito-idp:SetUserPoolMfaConfig",
    "cognito-idp:CreateResourceServer",
    "cognito-idp:DescribeResourceServer",
    "cognito-idp:UpdateResourceServer",
    "cognito-idp:DeleteResourceServer",
    "cognito-idp:CreateUserPoolDomain",
    "cognito-idp:UpdateUserPoolDomain",
    "cognito-idp:DeleteUserPoolDomain",
    "cognito-idp:CreateUserPoolClient",
    "cognito-idp:DescribeUserPoolClient",
    "cognito-idp:UpdateUserPoolClient",
    "cognito-idp:DeleteUserPoolClient",
    "cognito-idp:TagResource",
    "cognito-idp:UntagResource",
    "cognito-idp:ListTagsForResource",
)


def cognito_statements(account_id: str) -> list[Statement]:
    """Cognito: create pools (no ARN exists yet), then manage this account's pools only.

    A managed policy of its own (bootstrap/program.py): the inline policy has no
    room left under IAM's 10,240 characters.
    """
    return [
        # CreateUserPool and DescribeUserPoolDomain take no resource ARN.
        statement(
            ["cognito-idp:CreateUserPool", "cognito-idp:DescribeUserPoolDomain"],
            ["*"],
            sid="NewUserPools",
        ),
        statement(
            list(COGNITO_POOL_ACTIONS),
            [f"arn:aws:cognito-idp:*:{account_id}:userpool/*"],
            sid="AppUserPools",
        ),
    ]
