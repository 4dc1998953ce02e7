"""The ALB access-log bucket (B18): private, SSE-S3, expiring, TLS-only, ELB delivery only.

The bucket an ALB logs to must be one of this stack's, and its policy must
admit exactly the region's ELB log delivery on the load balancer's prefix
(``infra/documents/elb_logs.py``); the ALB depends on that policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import PolicyResource, StackValidationArgs

from infra.policies.base import (
    PolicySpec,
    StackFail,
    StackView,
    as_list,
    number,
    policy_statements,
    principals,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_LOAD_BALANCER,
    T_S3_BUCKET,
    T_S3_ENCRYPTION,
    T_S3_LIFECYCLE,
    T_S3_OWNERSHIP,
    T_S3_POLICY,
    T_S3_PUBLIC_ACCESS,
)

PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def _bucket_parts(view: StackView, bucket: PolicyResource, type_: str) -> list[PolicyResource]:
    """The sub-resources of ``type_`` that configure ``bucket``."""
    return view.referring(bucket, "bucket", type_)


def _elb_principal(region: str) -> dict[str, str] | None:
    from infra.documents import elb_logs

    try:
        return elb_logs.log_delivery_principal(region)
    except ValueError:
        return None


@stack_check
def _access_log_bucket(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B18: the bucket an ALB logs to is private, SSE-S3, expiring, TLS-only, and admits
    exactly the region's ELB log delivery on the load balancer's prefix."""
    buckets = {str(b.props.get("bucket")): b for b in view.of_type(T_S3_BUCKET)}
    for lb in view.of_type(T_LOAD_BALANCER):
        logs = lb.props.get("accessLogs") or {}
        if not isinstance(logs, Mapping) or logs.get("enabled") is not True:
            continue
        bucket = buckets.get(str(logs.get("bucket")))
        if bucket is None:
            fail(
                lb,
                "logs to a bucket this stack does not manage",
                "log to the stack's access-log bucket (infra/components/access_logs.py)",
            )
            continue
        _check_log_bucket_settings(view, bucket, fail)
        _check_log_bucket_policy(view, lb, bucket, str(logs.get("prefix") or ""), fail)


def _check_log_bucket_settings(view: StackView, bucket: PolicyResource, fail: StackFail) -> None:
    """B18: public access blocked, SSE-S3, ACLs disabled, objects expiring."""
    blocks = _bucket_parts(view, bucket, T_S3_PUBLIC_ACCESS)
    if not any(all(block.props.get(f) is True for f in PUBLIC_ACCESS_FLAGS) for block in blocks):
        fail(
            bucket,
            "public access is not fully blocked",
            "add a BucketPublicAccessBlock with all four flags true",
        )
    algorithms = [
        str((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"))
        for config in _bucket_parts(view, bucket, T_S3_ENCRYPTION)
        for rule in as_list(config.props.get("rules"))
        if isinstance(rule, Mapping)
    ]
    if algorithms != ["AES256"]:
        fail(
            bucket,
            f"default encryption is {algorithms or 'not configured'} "
            "(ALB log delivery supports SSE-S3 only)",
            'set sse_algorithm="AES256"',
        )
    ownership = [
        (o.props.get("rule") or {}).get("objectOwnership")
        for o in _bucket_parts(view, bucket, T_S3_OWNERSHIP)
    ]
    if "BucketOwnerEnforced" not in ownership:
        fail(
            bucket,
            "ACLs are not disabled",
            'add BucketOwnershipControls with object_ownership="BucketOwnerEnforced"',
        )
    expiring = [
        rule
        for config in _bucket_parts(view, bucket, T_S3_LIFECYCLE)
        for rule in as_list(config.props.get("rules"))
        if isinstance(rule, Mapping)
        and rule.get("status") == "Enabled"
        and (number((rule.get("expiration") or {}).get("days")) or 0) > 0
    ]
    if not expiring:
        fail(
            bucket,
            "logs never expire",
            "add a lifecycle rule expiring objects after logRetentionDays",
        )


def _check_log_bucket_policy(
    view: StackView, lb: PolicyResource, bucket: PolicyResource, prefix: str, fail: StackFail
) -> None:
    """B18: the bucket policy's allows and its TLS deny; the ALB waits for it."""
    policies = _bucket_parts(view, bucket, T_S3_POLICY)
    if not policies:
        fail(bucket, "has no bucket policy", "attach the access-log bucket policy")
        return
    if not any(dep.urn in {p.urn for p in policies} for dep in lb.dependencies):
        fail(
            lb,
            "does not depend on its log bucket's policy",
            "depends_on the BucketPolicy (ELB checks it can write when logging is enabled)",
        )
    arn = str(lb.props.get("arn") or "")
    parts = arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 4 else ("", "")
    name = str(bucket.props.get("bucket"))
    expected_resource = f"arn:aws:s3:::{name}/{prefix}/AWSLogs/{account}/*"
    statements = [s for p in policies for s in policy_statements(p.props.get("policy"))]
    _check_log_delivery(bucket, statements, _elb_principal(region), expected_resource, fail)
    tls = [
        s
        for s in statements
        if s.get("Effect") == "Deny"
        and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport"))
        == "false"
    ]
    if not tls:
        fail(
            bucket,
            "the bucket policy does not refuse requests without TLS",
            "deny s3:* when aws:SecureTransport is false",
        )


def _check_log_delivery(
    bucket: PolicyResource,
    statements: list[Mapping[str, Any]],
    principal: dict[str, str] | None,
    expected_resource: str,
    fail: StackFail,
) -> None:
    """B18: the policy's allows admit only ELB log delivery, s3:PutObject, on the prefix."""
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    if not allows:
        fail(bucket, "the bucket policy admits no log delivery", "allow the region's ELB account")
    for allow in allows:
        granted = dict(principals(allow.get("Principal")))
        if principal is None or granted != principal:
            fail(
                bucket,
                f"the bucket policy admits {sorted(granted.items())}, not the region's ELB "
                "log delivery",
                "admit exactly infra.documents.elb_logs.log_delivery_principal(region)",
            )
        if as_list(allow.get("Action")) != ["s3:PutObject"]:
            fail(bucket, "log delivery may do more than s3:PutObject", "allow s3:PutObject only")
        if as_list(allow.get("Resource")) != [expected_resource]:
            fail(
                bucket,
                "log delivery may write outside the load balancer's prefix",
                f"limit the resource to {expected_resource}",
            )


SPECS: Final[tuple[PolicySpec, ...]] = (
    stack_policy(
        "access-log-bucket",
        "The ALB's log bucket: private, SSE-S3, expiring, TLS-only, ELB delivery on its prefix.",
        "B18",
        _access_log_bucket,
    ),
)
