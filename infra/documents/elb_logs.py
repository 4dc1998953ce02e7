"""ALB access-log delivery: who writes the logs, and the log bucket's policy, as data.

Pure functions and tables (no Pulumi runtime), so the bucket policy can be
asserted in unit tests and validated by the policy pack (INVARIANT B18).

Who delivers the logs depends on the region
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html):
regions available before August 2022 write as their Regional Elastic Load
Balancing account; newer regions write as the service principal
``logdelivery.elasticloadbalancing.amazonaws.com``. Both tables are data; a
region in neither is refused by ``StackConfig`` before anything is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from infra.documents.iam import PolicyDocument, Statement

# The prefix the ALB writes under; AWS appends AWSLogs/<account id>/elasticloadbalancing/...
ACCESS_LOG_PREFIX: Final = "alb"
# Every log bucket's name starts with this (the deploy role's S3 grant is
# scoped to it, and it is disjoint from the state bucket's prefix).
LOG_BUCKET_PREFIX: Final = "fastapi-on-aws-alb-logs-"
LOG_DELIVERY_SERVICE: Final = "logdelivery.elasticloadbalancing.amazonaws.com"

# Regional Elastic Load Balancing accounts of the regions available before
# August 2022 (commercial partition), from the AWS page above.
ELB_LOG_ACCOUNTS: Final[Mapping[str, str]] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}
# Regions opened in or after August 2022: the log-delivery service principal.
LOG_DELIVERY_SERVICE_REGIONS: Final = (
    "ap-south-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-west-1",
    "eu-central-2",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "mx-central-1",
)


def supported_regions() -> tuple[str, ...]:
    """Every region whose log-delivery principal is known."""
    return (*ELB_LOG_ACCOUNTS, *LOG_DELIVERY_SERVICE_REGIONS)


def log_delivery_principal(region: str) -> dict[str, str]:
    """The ``Principal`` that writes a region's ALB access logs."""
    if region in ELB_LOG_ACCOUNTS:
        return {"AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNTS[region]}:root"}
    if region in LOG_DELIVERY_SERVICE_REGIONS:
        return {"Service": LOG_DELIVERY_SERVICE}
    raise ValueError(
        f"no ALB log-delivery principal is known for region {region!r}: add it to "
        "infra/documents/elb_logs.py from the AWS page on ALB access logs"
    )


def log_object_arn(bucket: str, account_id: str, prefix: str = ACCESS_LOG_PREFIX) -> str:
    """The objects one account's load balancers write under ``prefix``."""
    return f"arn:aws:s3:::{bucket}/{prefix}/AWSLogs/{account_id}/*"


def access_log_bucket_policy(bucket: str, region: str, account_id: str) -> PolicyDocument:
    """The log bucket's policy: the region's ELB log delivery may write this prefix only,
    and every request without TLS is refused."""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    write: Statement = {
        "Sid": "AlbLogDelivery",
        "Effect": "Allow",
        "Principal": log_delivery_principal(region),
        "Action": "s3:PutObject",
        "Resource": log_object_arn(bucket, account_id),
    }
    tls_only: Statement = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        # A deny of every S3 action: it can only take access away.
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return {"Version": "2012-10-17", "Statement": [write, tls_only]}
