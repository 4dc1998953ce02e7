"""The bootstrap resources: GitHub OIDC trust, CI roles, and the state backend.

Run once per AWS account with administrator credentials (docs/ci-cd.md); after
that, CI reaches AWS only through the roles made here (INVARIANT B11).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from bootstrap.config import BootstrapConfig
from bootstrap.documents import (
    CI_ROLE_PATH,
    GITHUB_OIDC_URL,
    STS_AUDIENCE,
    deploy_identity_policy,
    deploy_role_policy,
    environment_subject,
    github_trust_policy,
    preview_role_policy,
    pull_request_subject,
)
from infra.documents.iam import to_json

TYPE_PREFIX = "fastapi-on-aws:bootstrap"
# A first deploy creates RDS and ElastiCache; deploy.yml asks for two hours.
DEPLOY_SESSION_SECONDS = 7200
PREVIEW_SESSION_SECONDS = 3600


def _tags(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Tags on every bootstrap resource (INVARIANT C7's spirit for CI resources)."""
    tags = {"project": "fastapi-on-aws", "stack": pulumi.get_stack(), "purpose": "ci-bootstrap"}
    tags.update(extra or {})
    return tags


class StateBackend(pulumi.ComponentResource):
    """S3 bucket for Pulumi state and a KMS key for stack secrets.

    Both are protected: losing the state orphans every resource it tracks.
    """

    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        """Create the bucket (versioned, KMS-encrypted, private, TLS-only) and the key."""
        super().__init__(f"{TYPE_PREFIX}:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)

        key = aws.kms.Key(
            f"{name}-secrets-key",
            description="Encrypts Pulumi state and stack secrets of fastapi-on-aws",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=_tags(),
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-secrets-key-alias",
            name_prefix="alias/fastapi-on-aws-pulumi-",
            target_key_id=key.key_id,
            opts=child,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix="fastapi-on-aws-pulumi-state-",
            force_destroy=False,
            tags=_tags(),
            opts=kept,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: to_json(tls_only_bucket_policy(arn))),
            opts=child,
        )

        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.backend_url = pulumi.Output.concat("s3://", bucket.bucket)
        self.secrets_provider = pulumi.Output.concat("awskms:///", key.arn)
        self.register_outputs(
            {
                "bucketArn": self.bucket_arn,
                "keyArn": self.key_arn,
                "backendUrl": self.backend_url,
                "secretsProvider": self.secrets_provider,
            }
        )


def tls_only_bucket_policy(bucket_arn: str) -> dict[str, object]:
    """Bucket policy refusing every request that is not made over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


@dataclass(frozen=True)
class GithubCiAccessArgs:
    """Inputs of :class:`GithubCiAccess`."""

    config: BootstrapConfig
    account_id: pulumi.Input[str]
    state_bucket_arn: pulumi.Input[str] | None = None
    state_key_arn: pulumi.Input[str] | None = None


class GithubCiAccess(pulumi.ComponentResource):
    """GitHub OIDC provider plus one role per GitHub environment (and for previews).

    Each role trusts only tokens whose audience is STS and whose subject is
    exactly ``repo:<owner>/<name>:environment:<env>`` (deploy) or
    ``repo:<owner>/<name>:pull_request`` (preview).
    """

    oidc_provider_arn: pulumi.Output[str]
    deploy_role_arns: dict[str, pulumi.Output[str]]
    preview_role_arn: pulumi.Output[str] | None
    # Every role and its inline permissions, by logical name (for inspection).
    roles: dict[str, aws.iam.Role]
    role_policies: dict[str, aws.iam.RolePolicy]

    def __init__(
        self, name: str, args: GithubCiAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create (or reuse) the provider, the roles and their inline policies."""
        super().__init__(f"{TYPE_PREFIX}:GithubCiAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config

        if cfg.existing_oidc_provider_arn is not None:
            self.oidc_provider_arn = pulumi.Output.from_input(cfg.existing_oidc_provider_arn)
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_OIDC_URL,
                client_id_lists=[STS_AUDIENCE],
                tags=_tags(),
                opts=child,
            )
            self.oidc_provider_arn = provider.arn

        state = pulumi.Output.all(
            pulumi.Output.from_input(args.account_id),
            pulumi.Output.from_input(args.state_bucket_arn),
            pulumi.Output.from_input(args.state_key_arn),
        )

        self.roles = {}
        self.role_policies = {}
        self.deploy_role_arns = {}
        for environment in cfg.deploy_environments:
            subject = environment_subject(cfg.github_repository, environment)
            role = self._role(
                f"{name}-deploy-{environment}",
                subjects=[subject],
                description=f"pulumi up of the {environment} environment from {subject}",
                max_session_seconds=DEPLOY_SESSION_SECONDS,
                document=state.apply(
                    lambda v: to_json(
                        deploy_role_policy(
                            account_id=v[0], state_bucket_arn=v[1], state_key_arn=v[2]
                        )
                    )
                ),
                tags={"github-environment": environment},
            )
            self._attach_identity_policy(role, f"{name}-deploy-{environment}", state)
            self.deploy_role_arns[environment] = role.arn

        self.preview_role_arn = None
        if cfg.preview_role:
            subject = pull_request_subject(cfg.github_repository)
            role = self._role(
                f"{name}-preview",
                subjects=[subject],
                description=f"read-only pulumi preview from {subject}",
                max_session_seconds=PREVIEW_SESSION_SECONDS,
                document=state.apply(
                    lambda v: to_json(
                        preview_role_policy(state_bucket_arn=v[1], state_key_arn=v[2])
                    )
                ),
                tags={"github-event": "pull_request"},
            )
            self.preview_role_arn = role.arn

        outputs: dict[str, object] = {
            "oidcProviderArn": self.oidc_provider_arn,
            "deployRoleArns": self.deploy_role_arns,
        }
        if self.preview_role_arn is not None:
            outputs["previewRoleArn"] = self.preview_role_arn
        self.register_outputs(outputs)

    def _attach_identity_policy(
        self, role: aws.iam.Role, name: str, state: pulumi.Output[list[Any]]
    ) -> None:
        """The Cognito grants, as a managed policy: the inline one is at IAM's size limit."""
        identity_policy = aws.iam.Policy(
            f"{name}-identity",
            path=CI_ROLE_PATH,
            description="pulumi up: the application's Cognito user pool (authCognito)",
            policy=state.apply(lambda v: to_json(deploy_identity_policy(account_id=v[0]))),
            tags=_tags(),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-identity",
            role=role.name,
            policy_arn=identity_policy.arn,
            opts=pulumi.ResourceOptions(parent=role),
        )

    def _role(
        self,
        name: str,
        *,
        subjects: list[str],
        description: str,
        max_session_seconds: int,
        document: pulumi.Output[str],
        tags: dict[str, str],
    ) -> aws.iam.Role:
        """One CI role under :data:`CI_ROLE_PATH` with its trust and inline policy."""
        role = aws.iam.Role(
            name,
            path=CI_ROLE_PATH,
            description=description,
            assume_role_policy=self.oidc_provider_arn.apply(
                lambda arn: to_json(github_trust_policy(arn, subjects))
            ),
            max_session_duration=max_session_seconds,
            tags=_tags(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.roles[name] = role
        self.role_policies[name] = aws.iam.RolePolicy(
            f"{name}-permissions",
            role=role.id,
            policy=document,
            opts=pulumi.ResourceOptions(parent=role),
        )
        return role


@dataclass(frozen=True)
class BootstrapOutputs:
    """What the program exports, for the repository variables."""

    access: GithubCiAccess
    state: StateBackend | None


def build(config: BootstrapConfig) -> BootstrapOutputs:
    """Create every bootstrap resource for ``config`` and export the values CI needs."""
    identity = aws.get_caller_identity_output()
    state = StateBackend("pulumi-state") if config.state_backend == "s3" else None
    access = GithubCiAccess(
        "github-ci",
        GithubCiAccessArgs(
            config=config,
            account_id=identity.account_id,
            state_bucket_arn=state.bucket_arn if state else None,
            state_key_arn=state.key_arn if state else None,
        ),
    )
    pulumi.export("githubRepository", config.github_repository)
    pulumi.export("oidcProviderArn", access.oidc_provider_arn)
    pulumi.export("deployRoleArns", access.deploy_role_arns)
    if access.preview_role_arn is not None:
        pulumi.export("previewRoleArn", access.preview_role_arn)
    if state is not None:
        pulumi.export("backendUrl", state.backend_url)
        pulumi.export("secretsProvider", state.secrets_provider)
    return BootstrapOutputs(access=access, state=state)
