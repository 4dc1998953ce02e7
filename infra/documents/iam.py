"""IAM policy documents as data.

Every policy the program attaches is built here (or by a component from these
helpers) as a plain ``dict`` and serialised once, so tests can inspect and
validate the documents without the Pulumi runtime.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias

PolicyDocument: TypeAlias = dict[str, Any]
Statement: TypeAlias = dict[str, Any]

POLICY_VERSION = "2012-10-17"


def statement(
    actions: Sequence[str],
    resources: Sequence[str],
    *,
    sid: str | None = None,
    condition: dict[str, Any] | None = None,
) -> Statement:
    """One ``Allow`` statement; refuses wildcard actions (INVARIANT B11)."""
    if not actions:
        raise ValueError("an IAM statement needs at least one action")
    if not resources:
        raise ValueError("an IAM statement needs at least one resource")
    for action in actions:
        service, _, name = action.partition(":")
        if not service or not name or action == "*" or name == "*":
            raise ValueError(f"IAM action {action!r} must be 'service:Action' without a bare '*'")
    doc: Statement = {
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": list(resources) if len(resources) > 1 else resources[0],
    }
    if sid is not None:
        doc["Sid"] = sid
    if condition is not None:
        doc["Condition"] = condition
    return doc


def policy(statements: Sequence[Statement]) -> PolicyDocument:
    """A policy document from its statements."""
    if not statements:
        raise ValueError("an IAM policy needs at least one statement")
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def assume_role_policy(
    service_principal: str, *, condition: dict[str, Any] | None = None
) -> PolicyDocument:
    """Trust policy letting exactly one AWS service principal assume a role."""
    if not service_principal.endswith(".amazonaws.com"):
        raise ValueError(f"{service_principal!r} is not an AWS service principal")
    trust: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service_principal},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        trust["Condition"] = condition
    return policy([trust])


def to_json(document: PolicyDocument) -> str:
    """Serialise a document deterministically (stable diffs between previews)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def flow_logs_policy(log_group_arn: str, region: str, account_id: str) -> PolicyDocument:
    """What VPC Flow Logs needs to deliver to one CloudWatch log group."""
    return policy(
        [
            statement(
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                [log_group_arn, f"{log_group_arn}:*"],
                sid="WriteFlowLogs",
            ),
            # DescribeLogGroups cannot be scoped to one group: it lists by prefix.
            statement(
                ["logs:DescribeLogGroups"],
                [f"arn:aws:logs:{region}:{account_id}:log-group:*"],
                sid="FindLogGroup",
            ),
        ]
    )
