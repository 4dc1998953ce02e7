"""Shared helpers for the infrastructure tests (structural JSON checks, lookups)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.infra.harness import StackResult

SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
_RESOURCE = re.compile(r"^(\*|arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+)$")


def as_document(value: Any) -> Any:
    """A JSON document as data, whether the input held text or a structure."""
    return json.loads(value) if isinstance(value, str) else value


def assert_iam_policy(document: Any) -> None:
    """Structural validation of an IAM policy (Version, Statement, Effect, Action, Resource)."""
    doc = as_document(document)
    assert doc["Version"] == "2012-10-17"
    statements = doc["Statement"]
    assert isinstance(statements, list)
    assert statements
    for statement in statements:
        assert statement["Effect"] in ("Allow", "Deny")
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert actions
        for action in actions:
            assert _ACTION.fullmatch(action), action
            assert action != "*"
            assert not action.endswith(":*"), f"wildcard action {action} (B11)"
        if "Principal" in statement:
            continue
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        assert resources
        for resource in resources:
            assert _RESOURCE.fullmatch(resource), resource


def subnet_azs(stack: StackResult, subnet_ids: list[str]) -> set[str]:
    """The availability zones of the given subnet ids."""
    by_id = {record.id: record for record in stack.find(SUBNET)}
    return {by_id[subnet_id].inputs["availabilityZone"] for subnet_id in subnet_ids}


def private_subnet_ids(stack: StackResult) -> list[str]:
    """Ids of the network's private subnets."""
    return [r.id for r in stack.find(SUBNET) if "-private-" in r.name]


def security_group_id_of(stack: StackResult, name_suffix: str) -> str:
    """The id of the one security group whose name ends with ``name_suffix``."""
    return stack.one(SECURITY_GROUP, name_suffix).id
