"""Validate request documents offline against the AWS API models that ship with botocore.

Nobody deploys from here, so a document AWS would reject has to be caught by a
test. botocore carries the same service models the AWS SDKs are generated from;
``botocore.validate.ParamValidator`` checks required members, unknown members,
types and length/range limits. It does not check enums, so
:func:`request_errors` adds that walk on top.

IAM documents are strings in the IAM API, so the model cannot see inside them:
:func:`policy_document_errors` checks their structure (the grammar in the IAM
JSON policy reference) instead.

Usage from any test::

    assert_valid_request("ecs", "RegisterTaskDefinition", request)
    assert_valid_policy(document)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.validate import ParamValidator

__all__ = [
    "assert_valid_policy",
    "assert_valid_request",
    "operation_model",
    "policy_document_errors",
    "request_errors",
]


@cache
def operation_model(service: str, operation: str) -> OperationModel:
    """The botocore model of one API operation, e.g. ``("ecs", "RegisterTaskDefinition")``."""
    session = botocore.session.get_session()
    model = session.get_service_model(service)
    if operation not in model.operation_names:
        raise ValueError(f"{service} has no operation {operation!r}")
    return model.operation_model(operation)


def _enum_errors(value: Any, shape: Shape, path: str) -> list[str]:
    """Enum violations below ``value`` (ParamValidator checks types, not enum members)."""
    errors: list[str] = []
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for key, member in shape.members.items():
            if key in value:
                errors += _enum_errors(value[key], member, f"{path}.{key}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            errors += _enum_errors(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for key, item in value.items():
            errors += _enum_errors(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        allowed = shape.enum
        if allowed and value not in allowed:
            errors.append(f"{path}: {value!r} is not one of {sorted(allowed)}")
    return errors


def request_errors(service: str, operation: str, params: Mapping[str, Any]) -> list[str]:
    """Every reason the ``operation`` request ``params`` would be rejected client-side."""
    input_shape = operation_model(service, operation).input_shape
    if input_shape is None:
        raise ValueError(f"{service}.{operation} takes no input")
    report = ParamValidator().validate(dict(params), input_shape)
    errors = [line for line in report.generate_report().splitlines() if line.strip()]
    # The report's first line is a header ("Parameter validation failed:").
    errors = [line for line in errors if not line.endswith("validation failed:")]
    return errors + _enum_errors(params, input_shape, operation)


def assert_valid_request(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Fail with every problem listed when ``params`` is not a valid request."""
    errors = request_errors(service, operation, params)
    assert not errors, f"{service}.{operation} request is invalid:\n" + "\n".join(errors)


# --- IAM policy documents -------------------------------------------------------------

_TOP_LEVEL = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")
_SID = re.compile(r"^[A-Za-z0-9]+$")
# IAM's limit on a role's inline policies, whitespace excluded; the
# largest single-document limit that applies to anything built here.
_MAX_POLICY_CHARS = 10_240


def _strings(value: Any) -> list[str] | None:
    """A string or a non-empty list of strings as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _statement_errors(
    statement: Any, where: str, *, trust: bool, resource_policy: bool = False
) -> list[str]:
    """Grammar errors in one statement; ``trust`` and ``resource_policy`` (a bucket
    policy's) statements need a Principal."""
    if not isinstance(statement, Mapping):
        return [f"{where}: a statement must be an object"]
    errors = [f"{where}: unknown key {key!r}" for key in statement if key not in _STATEMENT_KEYS]
    if statement.get("Effect") not in ("Allow", "Deny"):
        errors.append(f"{where}.Effect must be 'Allow' or 'Deny'")
    if "Sid" in statement and not (
        isinstance(statement["Sid"], str) and _SID.match(statement["Sid"])
    ):
        errors.append(f"{where}.Sid must be alphanumeric")
    if ("Action" in statement) == ("NotAction" in statement):
        errors.append(f"{where}: exactly one of Action/NotAction is required")
    for key in ("Action", "NotAction"):
        if key in statement:
            actions = _strings(statement[key])
            if actions is None:
                errors.append(f"{where}.{key} must be a string or a list of strings")
                continue
            errors += [
                f"{where}.{key}: {a!r} is not 'service:Action'"
                for a in actions
                if a != "*" and not _ACTION.match(a)
            ]
    has_principal = "Principal" in statement or "NotPrincipal" in statement
    if trust:
        if not has_principal:
            errors.append(f"{where}: a trust policy statement needs a Principal")
        if "Resource" in statement or "NotResource" in statement:
            errors.append(f"{where}: a trust policy statement takes no Resource")
    else:
        if has_principal and not resource_policy:
            errors.append(f"{where}: an identity policy takes no Principal")
        if resource_policy and not has_principal:
            errors.append(f"{where}: a resource policy statement needs a Principal")
        if ("Resource" in statement) == ("NotResource" in statement):
            errors.append(f"{where}: exactly one of Resource/NotResource is required")
        for key in ("Resource", "NotResource"):
            if key in statement:
                resources = _strings(statement[key])
                if resources is None:
                    errors.append(f"{where}.{key} must be a string or a list of strings")
                    continue
                errors += [
                    f"{where}.{key}: {r!r} is neither '*' nor an ARN"
                    for r in resources
                    if r != "*" and not _ARN.match(r)
                ]
    if "Condition" in statement and not isinstance(statement["Condition"], Mapping):
        errors.append(f"{where}.Condition must be an object")
    return errors


def policy_document_errors(
    document: Any, *, trust: bool = False, resource_policy: bool = False
) -> list[str]:
    """Every structural problem in an IAM policy (``trust=True``: a role trust policy;
    ``resource_policy=True``: a resource's own policy, such as a bucket policy)."""
    if not isinstance(document, Mapping):
        return ["the policy must be a JSON object"]
    errors = [f"unknown top-level key {key!r}" for key in document if key not in _TOP_LEVEL]
    if document.get("Version") != "2012-10-17":
        errors.append("Version must be '2012-10-17'")
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return [*errors, "Statement must be a non-empty list"]
    for index, statement in enumerate(statements):
        errors += _statement_errors(
            statement, f"Statement[{index}]", trust=trust, resource_policy=resource_policy
        )
    size = len(re.sub(r"\s", "", json.dumps(document)))
    if size > _MAX_POLICY_CHARS:
        errors.append(f"the policy is {size} characters, IAM allows {_MAX_POLICY_CHARS}")
    return errors


def assert_valid_policy(
    document: Any, *, trust: bool = False, resource_policy: bool = False
) -> None:
    """Fail with every problem listed when ``document`` is not a valid IAM policy."""
    errors = policy_document_errors(document, trust=trust, resource_policy=resource_policy)
    kind = "trust policy" if trust else "resource policy" if resource_policy else "policy"
    assert not errors, f"invalid IAM {kind}:\n" + "\n".join(errors)


def input_members(service: str, operation: str) -> set[str]:
    """The request members an AWS operation accepts (from botocore's model)."""
    shape = operation_model(service, operation).input_shape
    assert shape is not None, f"{service}.{operation} takes no input"
    return set(shape.members)
