"""IAM policies (infra/policies/iam.py): least privilege, trust, runtime role scope.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import copy
import json

import pytest
from pulumi_policy import PolicyResource

from infra.policies import iam
from infra.policies.resource_types import (
    T_ROLE,
    T_ROLE_ATTACHMENT,
    T_ROLE_POLICY,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DF,
    DL,
    PF,
    PL,
    Bad,
    assert_reported,
    on_props,
    set_path,
)

GITHUB_OIDC = "token.actions.githubusercontent.com"


def _trust(resource: PolicyResource, *services: str) -> None:
    """Make a role's assume-role policy trust ``services`` instead."""
    document = resource.props["assumeRolePolicy"]
    parsed = json.loads(document) if isinstance(document, str) else copy.deepcopy(document)
    for statement in parsed["Statement"]:
        statement["Principal"] = {"Service": list(services) if len(services) > 1 else services[0]}
    resource.props["assumeRolePolicy"] = json.dumps(parsed)  # type: ignore[index]


BAD: tuple[Bad, ...] = (
    Bad(
        "iam-least-privilege",
        DF,
        T_ROLE_POLICY,
        "execution-secrets",
        set_path(
            "policy",
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ),
        ("exact actions",),
    ),
    Bad(
        "iam-least-privilege",
        DL,
        T_ROLE_ATTACHMENT,
        "vpc-access",
        set_path("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ("AdministratorAccess",),
    ),
    Bad(
        "iam-least-privilege",
        DF,
        T_ROLE,
        "task-role",
        set_path(
            "assumeRolePolicy",
            json.dumps(
                {
                    "Statement": [
                        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}
                    ]
                }
            ),
        ),
        ("never a whole account",),
    ),
    Bad(
        "iam-least-privilege",
        DF,
        T_ROLE,
        "task-role",
        set_path(
            "assumeRolePolicy",
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Principal": {
                                "Federated": f"arn:aws:iam::1:oidc-provider/{GITHUB_OIDC}"
                            },
                            "Condition": {
                                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}
                            },
                        }
                    ]
                }
            ),
        ),
        ("one repository",),
    ),
    Bad(
        "runtime-role-scope",
        PF,
        T_ROLE_POLICY,
        "execution-secrets",
        on_props(
            set_path(
                "policy",
                json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["ssm:GetParameters"],
                                "Resource": "arn:aws:ssm:eu-west-1:123456789012:parameter/*",
                            }
                        ]
                    }
                ),
            )
        ),
        ("exactly the app's SSM parameters",),
        reports="app-execution-role",
    ),
    Bad(
        "runtime-role-scope",
        DL,
        T_ROLE_POLICY,
        "function-parameters",
        on_props(
            set_path(
                "policy",
                json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["ssm:GetParameters", "kms:Decrypt"],
                                "Resource": "*",
                            }
                        ]
                    }
                ),
            )
        ),
        ("kms:Decrypt",),
        reports="app-function-role",
    ),
    Bad(
        "runtime-role-scope",
        DF,
        T_ROLE_ATTACHMENT,
        "execution-managed",
        on_props(set_path("policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")),
        ("ECR",),
        reports="app-execution-role",
    ),
    Bad(
        "role-trusts-its-user",
        PF,
        T_ROLE,
        "app-task-role",
        lambda r: _trust(r, "ecs.amazonaws.com"),
        ("only ecs-tasks.amazonaws.com assumes it",),
    ),
    Bad(
        "role-trusts-its-user",
        PL,
        T_ROLE,
        "app-function-role",
        lambda r: _trust(r, "lambda.amazonaws.com", "edgelambda.amazonaws.com"),
        ("edgelambda.amazonaws.com",),
    ),
    Bad(
        "role-trusts-its-user",
        PL,
        T_ROLE,
        "app-proxy-role",
        lambda r: _trust(r, "rds-db.amazonaws.com"),
        ("only rds.amazonaws.com assumes it",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of iam.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in iam.SPECS}
