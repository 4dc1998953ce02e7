"""IAM guardrails: least privilege, exact trust, and the runtime roles' scope.

A6 (execution and function roles pull, log and read exactly the app's SSM
parameters) and B11 (no wildcard actions or admin policies, exact trust
principals, each role trusting exactly the service that assumes it, GitHub
OIDC scoped to one repository).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from infra.documents.identity import CLIENT_SECRET_LEAF
from infra.policies.base import (
    Fail,
    PolicySpec,
    StackFail,
    StackView,
    as_list,
    policy_statements,
    principals,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_KMS_KEY,
    T_LAMBDA,
    T_POLICY,
    T_RDS_INSTANCE,
    T_RDS_PROXY,
    T_ROLE,
    T_ROLE_ATTACHMENT,
    T_ROLE_POLICY,
    T_SSM_PARAMETER,
    T_TASK_DEFINITION,
)

ECS_EXECUTION_MANAGED_POLICY: Final = (
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
)
ADMIN_POLICY_NAMES: Final = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
RDS_MONITORING_PRINCIPAL: Final = "monitoring.rds.amazonaws.com"


def _admin_policy(arn: object) -> bool:
    return (
        isinstance(arn, str)
        and arn.startswith("arn:aws:iam::aws:policy/")
        and arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES
    )


@resource_check(T_ROLE, T_ROLE_POLICY, T_POLICY, T_ROLE_ATTACHMENT)
def _iam(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """B11: no wildcard actions or admin policies; exact trust principals; scoped GitHub OIDC."""
    if args.resource_type == T_ROLE:
        for statement in policy_statements(props.get("assumeRolePolicy")):
            for kind, value in principals(statement.get("Principal")):
                if kind == "Service" and not re.fullmatch(
                    r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com", value
                ):
                    fail(
                        f"trusts the service principal {value!r}",
                        "name the exact service, e.g. ecs-tasks.amazonaws.com",
                    )
                elif kind == "AWS" and (value == "*" or value.endswith(":root")):
                    fail(
                        f"trusts {value!r}",
                        "trust one service or an exact role, never a whole account or *",
                    )
                elif kind == "Federated" and "token.actions.githubusercontent.com" in value:
                    condition = json.dumps(statement.get("Condition") or {})
                    subjects = re.findall(
                        r'"token\.actions\.githubusercontent\.com:sub": (\[[^\]]*\]|"[^"]*")',
                        condition,
                    )
                    values = [item for found in subjects for item in as_list(json.loads(found))]
                    if not values or any(
                        not str(item).startswith("repo:") or str(item).startswith("repo:*")
                        for item in values
                    ):
                        fail(
                            "GitHub OIDC trust is not scoped to one repository",
                            "add a condition on token.actions.githubusercontent.com:sub = "
                            '"repo:<owner>/<repo>:..."',
                        )
        for arn in as_list(props.get("managedPolicyArns")):
            if _admin_policy(arn):
                fail(f"attaches {arn}", "grant only the actions the role needs")
    elif args.resource_type == T_ROLE_ATTACHMENT:
        if _admin_policy(props.get("policyArn")):
            fail(f"attaches {props.get('policyArn')}", "grant only the actions the role needs")
    else:
        for statement in policy_statements(props.get("policy")):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            for action in as_list(statement.get("Action")):
                if action == "*" or str(action).endswith(":*"):
                    fail(f"allows the wildcard action {action!r}", "list the exact actions")
            if statement.get("NotAction"):
                fail("uses NotAction with Allow", "list the exact actions")


# Which service principal a role must trust, by the property that hands it to AWS.
ROLE_USERS: Final[Mapping[tuple[str, str], str]] = {
    (T_TASK_DEFINITION, "executionRoleArn"): "ecs-tasks.amazonaws.com",
    (T_TASK_DEFINITION, "taskRoleArn"): "ecs-tasks.amazonaws.com",
    (T_LAMBDA, "role"): "lambda.amazonaws.com",
    (T_RDS_PROXY, "roleArn"): "rds.amazonaws.com",
    (T_RDS_INSTANCE, "monitoringRoleArn"): RDS_MONITORING_PRINCIPAL,
    ("aws:ec2/flowLog:FlowLog", "iamRoleArn"): "vpc-flow-logs.amazonaws.com",
}


@stack_check
def _role_trusts_its_user(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B11: each role trusts exactly the service that assumes it, no other principal.

    The per-role check only asks for an exact service name; a task role that
    trusts ``ecs.amazonaws.com`` (the ECS service, not its tasks) passed it, and
    ECS could then not assume the role for the task at all.
    """
    for role in view.of_type(T_ROLE):
        expected = {
            principal
            for (user_type, key), principal in ROLE_USERS.items()
            for user in view.referring(role, key, user_type)
        }
        if not expected:
            continue
        trusted = {
            (kind, value)
            for statement in policy_statements(role.props.get("assumeRolePolicy"))
            if statement.get("Effect", "Allow") == "Allow"
            for kind, value in principals(statement.get("Principal"))
        }
        wanted = {("Service", principal) for principal in expected}
        if trusted != wanted:
            shown = ", ".join(sorted(f"{kind}:{value}" for kind, value in trusted)) or "nothing"
            fail(
                role,
                f"trusts {shown}, but only {', '.join(sorted(expected))} assumes it",
                f"trust exactly {', '.join(sorted(expected))} in its assume-role policy",
            )


def role_documents(
    view: StackView, role: PolicyResource
) -> tuple[list[Mapping[str, Any]], set[str]]:
    """Statements of a role's inline policies and the ARNs of its managed attachments."""
    statements: list[Mapping[str, Any]] = []
    for policy in view.referring(role, "role", T_ROLE_POLICY):
        statements += policy_statements(policy.props.get("policy"))
    statements += [
        statement
        for inline in as_list(role.props.get("inlinePolicies"))
        if isinstance(inline, Mapping)
        for statement in policy_statements(inline.get("policy"))
    ]
    attached = {
        str(item.props.get("policyArn")) for item in view.referring(role, "role", T_ROLE_ATTACHMENT)
    }
    attached |= {str(arn) for arn in as_list(role.props.get("managedPolicyArns"))}
    return statements, attached


@stack_check
def _runtime_role_scope(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A6: the execution role pulls, logs and reads exactly the app's parameters."""
    # The M2M client's secret is for the service's callers: the service never reads it (B21).
    parameters = {
        str(parameter.props.get("arn"))
        for parameter in view.of_type(T_SSM_PARAMETER)
        if not str(parameter.props.get("name", "")).endswith(f"/{CLIENT_SECRET_LEAF}")
    }
    # Only a key the SSM parameters are encrypted with justifies kms:Decrypt on
    # the runtime role; other keys in the stack (the alarm topic's) do not.
    has_cmk = any(
        view.refs(parameter, "keyId", T_KMS_KEY) for parameter in view.of_type(T_SSM_PARAMETER)
    )
    roles: list[tuple[PolicyResource, bool]] = []
    for task in view.of_type(T_TASK_DEFINITION):
        roles += [(role, True) for role in view.refs(task, "executionRoleArn", T_ROLE)]
    for function in view.of_type(T_LAMBDA):
        roles += [(role, False) for role in view.refs(function, "role", T_ROLE)]
    for role, is_execution in roles:
        statements, attached = role_documents(view, role)
        actions = {
            str(action) for statement in statements for action in as_list(statement.get("Action"))
        }
        if (
            is_execution
            and ECS_EXECUTION_MANAGED_POLICY not in attached
            and not {"ecr:BatchGetImage", "logs:PutLogEvents"} <= actions
        ):
            fail(
                role,
                "cannot pull from ECR and write logs",
                f"attach {ECS_EXECUTION_MANAGED_POLICY}",
            )
        granted: set[str] = set()
        for statement in statements:
            statement_actions = {str(action) for action in as_list(statement.get("Action"))}
            if "ssm:GetParameters" in statement_actions:
                granted |= {str(arn) for arn in as_list(statement.get("Resource"))}
            if "kms:Decrypt" in statement_actions and not has_cmk:
                fail(
                    role,
                    "has kms:Decrypt without a customer-managed key in the stack",
                    "drop kms:Decrypt (SSM's AWS-managed key needs none)",
                )
            extra = {
                action
                for action in statement_actions
                if is_execution
                and not action.startswith(("ecr:", "logs:", "ssm:GetParameters", "kms:Decrypt"))
            }
            if extra:
                fail(
                    role,
                    f"grants {', '.join(sorted(extra))}",
                    "the execution role needs only ECR pull, logs and ssm:GetParameters",
                )
        if granted != parameters:
            fail(
                role,
                "ssm:GetParameters is not scoped to exactly the app's SSM parameters",
                "grant it on the three parameter ARNs from the secrets component, nothing else",
            )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "iam-least-privilege",
        "IAM: no wildcard actions or admin policies, exact trust principals, scoped GitHub OIDC.",
        "B11",
        _iam,
    ),
    stack_policy(
        "role-trusts-its-user",
        "Each role trusts exactly the service principal that assumes it.",
        "B11",
        _role_trusts_its_user,
    ),
    stack_policy(
        "runtime-role-scope",
        "Execution/function roles pull, log and read exactly the app's SSM parameters.",
        "A6",
        _runtime_role_scope,
    ),
)
