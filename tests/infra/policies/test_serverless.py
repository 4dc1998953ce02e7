"""Serverless policies (infra/policies/serverless.py): Lambda and the HTTP API.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource

from infra.policies import serverless
from infra.policies.resource_types import (
    T_API,
    T_API_INTEGRATION,
    T_API_STAGE,
    T_LAMBDA,
    T_LAMBDA_PERMISSION,
    T_ROLE_ATTACHMENT,
)
from infra.policies.serverless import MIGRATE_FUNCTION_SUFFIX
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    CURRENT_RESOURCES,
    DELETE,
    DL,
    PL,
    Bad,
    assert_reported,
    drop_dependency,
    on_props,
    set_path,
)


def _point_at_migrate_function(resource: PolicyResource) -> None:
    """Let the API's permission name the migrate function instead of the serving one."""
    migrate = [
        r
        for r in CURRENT_RESOURCES
        if r.resource_type == T_LAMBDA and r.name.endswith(MIGRATE_FUNCTION_SUFFIX)
    ]
    assert migrate, "the Lambda shape has a migrate function"
    deps = resource.property_dependencies["function"]
    deps[:] = [d for d in deps if d.resource_type != T_LAMBDA] + migrate


BAD: tuple[Bad, ...] = (
    Bad(
        "lambda-function",
        DL,
        T_LAMBDA,
        "app-function",
        set_path("packageType", "Zip"),
        ("package_type",),
    ),
    Bad(
        "lambda-function",
        PL,
        T_LAMBDA,
        "app-function",
        lambda p: p.update(imageUri=p["imageUri"].split("@")[0] + ":latest"),
        ("digest",),
    ),
    Bad(
        "lambda-function",
        DL,
        T_LAMBDA,
        "app-function",
        set_path("imageConfig.commands", ["main.handler"]),
        ("lambda_handler.handler",),
    ),
    Bad("lambda-function", DL, T_LAMBDA, "app-function", set_path("timeout", 30), ("below",)),
    Bad(
        "lambda-function",
        DL,
        T_LAMBDA,
        "app-function",
        set_path("environment.variables.API_TOKEN", "plaintext-token-value"),
        ("API_TOKEN_SSM_PARAMETER",),
    ),
    Bad(
        "lambda-function",
        DL,
        T_LAMBDA,
        "app-function",
        set_path("environment.variables.REDIS_URL", "redis://h:6379/0"),
        ("rediss://",),
    ),
    Bad(
        "lambda-function",
        DL,
        T_LAMBDA,
        "app-function",
        set_path("architectures", DELETE),
        ("architectures",),
    ),
    Bad(
        "lambda-function",
        PL,
        T_LAMBDA,
        "migrate-function",
        set_path("timeout", 901),
        ("at most 900",),
    ),
    Bad(
        "lambda-function",
        DL,
        T_LAMBDA,
        "migrate-function",
        set_path("reservedConcurrentExecutions", -1),
        ("reserved_concurrent_executions=1",),
    ),
    Bad(
        "http-api",
        DL,
        T_API_INTEGRATION,
        "integration",
        set_path("payloadFormatVersion", "1.0"),
        ('payload_format_version="2.0"',),
    ),
    Bad(
        "http-api",
        DL,
        T_API_INTEGRATION,
        "integration",
        set_path("integrationType", "HTTP_PROXY"),
        ("AWS_PROXY",),
    ),
    Bad("http-api", PL, T_API_STAGE, "stage", set_path("name", "v1"), ('"$default"',)),
    Bad(
        "http-api",
        DL,
        T_API_STAGE,
        "stage",
        set_path("accessLogSettings", DELETE),
        ("access_log_settings",),
    ),
    Bad(
        "http-api",
        DL,
        T_API_STAGE,
        "stage",
        set_path("defaultRouteSettings", {}),
        ("throttling",),
    ),
    Bad(
        "http-api",
        DL,
        T_LAMBDA_PERMISSION,
        "invoke",
        set_path("sourceArn", DELETE),
        ("source_arn",),
    ),
    Bad(
        "lambda-vpc-access",
        DL,
        T_ROLE_ATTACHMENT,
        "vpc-access",
        on_props(set_path("policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")),
        ("AWSLambdaVPCAccessExecutionRole",),
        reports="app-function-role",
    ),
    Bad(
        "api-invokes-serving-function",
        PL,
        T_LAMBDA_PERMISSION,
        "invoke",
        lambda r: _point_at_migrate_function(r),
        ("outlasts the API's 30 s",),
    ),
    Bad(
        "api-permission-scoped",
        PL,
        T_LAMBDA_PERMISSION,
        "invoke",
        drop_dependency(T_API),
        ("execution_arn",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of serverless.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in serverless.SPECS}
