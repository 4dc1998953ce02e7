"""Access logs: the S3 bucket the ALB writes its access logs to (INVARIANT B18).

A shared, compute-independent layer: its logical names never depend on
config, so a compute switch keeps its URNs (INVARIANT C1) and never has to
delete a bucket full of logs (which a prod bucket, without ``force_destroy``,
would refuse). In the Lambda shape the bucket simply receives nothing until
the stack is switched back.

The bucket: every public access blocked, ACLs disabled (BucketOwnerEnforced),
SSE-S3 (ALB log delivery does not support SSE-KMS), versioning left off (the
bucket's default) with a lifecycle that expires logs after the stack's log
retention and cleans up noncurrent versions and incomplete uploads anyway,
and a policy that admits exactly the region's ELB log delivery for this
stack's prefix and refuses any request without TLS.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import type_token
from infra.documents import elb_logs, iam

COMPONENT_TYPE = type_token("accesslogs", "AccessLogBucket")
# Incomplete multipart uploads and noncurrent versions never outlive this.
CLEANUP_DAYS = 7


@dataclass(frozen=True)
class AccessLogBucketArgs:
    """Inputs of the AccessLogBucket component."""

    region: str
    retention_days: int
    force_destroy: bool
    """dev only: let ``pulumi destroy`` delete a bucket that still holds logs."""


class AccessLogBucket(pulumi.ComponentResource):
    """The ALB access-log bucket with its public access block, encryption, lifecycle
    and policy; ``ready`` is what a load balancer writing to it must depend on."""

    bucket_name: pulumi.Output[str]
    prefix: str
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the bucket and its controls as children of this component."""
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.prefix = elb_logs.ACCESS_LOG_PREFIX

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            # A fixed prefix plus a unique suffix S3 generates: a replacement
            # never collides, and the deploy role's S3 grant is scoped to it.
            bucket_prefix=elb_logs.LOG_BUCKET_PREFIX,
            force_destroy=args.force_destroy,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    # SSE-S3: ALB log delivery cannot write to an SSE-KMS bucket.
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.retention_days
                    ),
                    # Versioning is off; should anyone turn it on, old versions still go.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=CLEANUP_DAYS
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=CLEANUP_DAYS
                    ),
                )
            ],
            opts=child,
        )
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        bucket_policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.bucket, identity.account_id).apply(
                lambda values: iam.to_json(
                    elb_logs.access_log_bucket_policy(values[0], args.region, values[1])
                )
            ),
            # S3 refuses a bucket policy while the public access block is being
            # written; ordering them avoids a conflict on create.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.bucket_name = bucket.bucket
        # ELB checks on CreateLoadBalancer/ModifyLoadBalancerAttributes that it
        # may write a test object: the policy (and the controls) must exist first.
        self.ready = [bucket_policy, ownership, encryption, lifecycle]
        self.register_outputs({"bucketName": self.bucket_name, "prefix": self.prefix})
