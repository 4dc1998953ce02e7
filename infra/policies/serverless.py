"""Serverless guardrails: the Lambda functions and the HTTP API in front of them.

A10/A11 (image by digest, the Mangum handler, timeouts under the API's 30 s
except the migrate function, VPC access), A12/B14 (AWS_PROXY 2.0, a
``$default`` stage with logs and throttling, invoke scoped to this API), B7
(SSM parameter names, never values) and B10 (``rediss://``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policies.base import (
    Fail,
    PolicySpec,
    StackFail,
    StackView,
    as_list,
    number,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.iam import role_documents
from infra.policies.resource_types import (
    T_API,
    T_API_INTEGRATION,
    T_API_STAGE,
    T_LAMBDA,
    T_LAMBDA_PERMISSION,
    T_ROLE,
)
from infra.policies.secrets import secret_like

API_GATEWAY_TIMEOUT_SECONDS: Final = 30
# Lambda's own maximum, allowed only for the migrate function (never behind the API).
LAMBDA_MAX_TIMEOUT_SECONDS: Final = 900
MIGRATE_FUNCTION_SUFFIX: Final = "-migrate-function"
LAMBDA_VPC_MANAGED_POLICY: Final = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
)


@resource_check(T_LAMBDA)
def _lambda_function(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A10 (architecture set), A11, B7 (parameter names only), B10 (rediss://).

    The serving function's timeout is under the API's 30 s; the migrate
    function (``*-migrate-function``) may run to Lambda's 900 s, one at a time.
    """
    if props.get("packageType") != "Image":
        fail(
            f"packageType is {props.get('packageType')!r}",
            'set package_type="Image" (the service image)',
        )
    if "@sha256:" not in str(props.get("imageUri") or ""):
        fail(
            "the image is not pinned by digest",
            "use <repository>@sha256:<digest> from the built image",
        )
    commands = as_list((props.get("imageConfig") or {}).get("commands"))
    if commands != ["lambda_handler.handler"]:
        fail(
            f"image command is {commands!r}", 'set image_config.commands=["lambda_handler.handler"]'
        )
    timeout = number(props.get("timeout"))
    if _name.endswith(MIGRATE_FUNCTION_SUFFIX):
        # Never behind the API (the _api_invokes_serving_function stack check):
        # it may wait for the database up to Lambda's own maximum, one at a time.
        if timeout is None or timeout > LAMBDA_MAX_TIMEOUT_SECONDS:
            fail(
                f"timeout is {props.get('timeout')!r} s",
                f"set the migrate function's timeout to at most {LAMBDA_MAX_TIMEOUT_SECONDS} s",
            )
        if number(props.get("reservedConcurrentExecutions")) != 1:
            fail(
                "the migrate function may run more than once at a time",
                "set reserved_concurrent_executions=1 on the migrate function",
            )
    elif timeout is None or timeout >= API_GATEWAY_TIMEOUT_SECONDS:
        fail(
            f"timeout is {props.get('timeout')!r} s",
            f"set timeout below the HTTP API's {API_GATEWAY_TIMEOUT_SECONDS} s "
            "(lambdaTimeoutSeconds 1-29)",
        )
    if not as_list(props.get("architectures")):
        fail("architectures is not set", "set architectures=[cpuArchitecture] to match the image")
    _check_environment((props.get("environment") or {}).get("variables") or {}, fail)


def _check_environment(variables: Mapping[str, Any], fail: Fail) -> None:
    """B7 (SSM parameter names in the environment, never values) and B10 (rediss://)."""
    for key, value in variables.items():
        if secret_like(str(key)):
            fail(
                f"the secret {key} is in the plain environment",
                f"pass the SSM parameter name as {key}_SSM_PARAMETER instead",
            )
        elif str(key).endswith("_SSM_PARAMETER") and not str(value).startswith("/"):
            fail(
                f"{key} is not an SSM parameter name",
                "pass the parameter name (/fastapi-on-aws/<stack>/...), never its value",
            )
        if key == "REDIS_URL" and not str(value).startswith("rediss://"):
            fail(
                "REDIS_URL is not rediss://",
                "build REDIS_URL as rediss://<primary endpoint>:6379/0",
            )


@resource_check(T_API_INTEGRATION, T_API_STAGE, T_LAMBDA_PERMISSION)
def _http_api(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """A12 and B14."""
    if args.resource_type == T_API_INTEGRATION:
        if props.get("integrationType") != "AWS_PROXY":
            fail(
                f"integrationType is {props.get('integrationType')!r}",
                'set integration_type="AWS_PROXY"',
            )
        if props.get("payloadFormatVersion") != "2.0":
            fail(
                f"payloadFormatVersion is {props.get('payloadFormatVersion')!r}",
                'set payload_format_version="2.0" (what Mangum expects from an HTTP API)',
            )
    elif args.resource_type == T_API_STAGE:
        if props.get("name") != "$default":
            fail(
                f"stage is {props.get('name')!r}, which prefixes every route",
                'name the stage "$default"',
            )
        logs = props.get("accessLogSettings") or {}
        if not (logs.get("destinationArn") and logs.get("format")):
            fail("no access logs", "set access_log_settings with a log group ARN and a format")
        routes = props.get("defaultRouteSettings") or {}
        if not (
            number(routes.get("throttlingRateLimit")) and number(routes.get("throttlingBurstLimit"))
        ):
            fail(
                "no throttling",
                "set default_route_settings throttling_rate_limit and throttling_burst_limit",
            )
    elif str(props.get("principal")) == "apigateway.amazonaws.com":
        source = str(props.get("sourceArn") or "")
        if not source.startswith("arn:aws:execute-api:") or re.match(
            r"^arn:aws:execute-api:[^:]*:[^:]*:\*", source
        ):
            fail(
                "API Gateway may invoke the function from any API",
                "set source_arn to this API's execution ARN + /*/*",
            )


@stack_check
def _lambda_vpc_access(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A11: a function in a VPC may create its network interfaces."""
    for function in view.of_type(T_LAMBDA):
        if not (function.props.get("vpcConfig") or {}).get("subnetIds"):
            continue
        for role in view.refs(function, "role", T_ROLE):
            statements, attached = role_documents(view, role)
            actions = {
                str(action)
                for statement in statements
                for action in as_list(statement.get("Action"))
            }
            if (
                LAMBDA_VPC_MANAGED_POLICY not in attached
                and "ec2:CreateNetworkInterface" not in actions
            ):
                fail(
                    role,
                    f"cannot attach {function.name} to the VPC",
                    f"attach {LAMBDA_VPC_MANAGED_POLICY}",
                )


@stack_check
def _api_invokes_serving_function(
    view: StackView, fail: StackFail, _args: StackValidationArgs
) -> None:
    """A11: what the HTTP API may invoke finishes under its 30 s (never the migrate function)."""
    for permission in view.of_type(T_LAMBDA_PERMISSION):
        if permission.props.get("principal") != "apigateway.amazonaws.com":
            continue
        for function in view.refs(permission, "function", T_LAMBDA):
            timeout = number(function.props.get("timeout"))
            if timeout is None or timeout >= API_GATEWAY_TIMEOUT_SECONDS:
                fail(
                    permission,
                    f"lets the HTTP API invoke {function.name}, whose timeout "
                    f"({function.props.get('timeout')!r} s) outlasts the API's "
                    f"{API_GATEWAY_TIMEOUT_SECONDS} s",
                    "point the permission (and the integration) at the serving function's alias",
                )


@stack_check
def _api_permission(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A12: API Gateway's invoke permission is scoped to this stack's API."""
    for permission in view.of_type(T_LAMBDA_PERMISSION):
        if permission.props.get("principal") != "apigateway.amazonaws.com":
            continue
        if not view.refs(permission, "sourceArn", T_API):
            fail(
                permission,
                "is not scoped to this stack's HTTP API",
                "set source_arn from the API's execution_arn",
            )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "lambda-function",
        "Lambda: image by digest, lambda_handler.handler, timeout < 30 s, SSM names only.",
        "A10 A11 B7 B10",
        _lambda_function,
    ),
    resource_policy(
        "http-api",
        "HTTP API: AWS_PROXY 2.0, $default stage with logs and throttling, scoped invoke.",
        "A12 B14",
        _http_api,
    ),
    stack_policy(
        "lambda-vpc-access",
        "A function in a VPC has the VPC access policy.",
        "A11",
        _lambda_vpc_access,
    ),
    stack_policy(
        "api-invokes-serving-function",
        "The HTTP API invokes only a function that finishes under its 30 s.",
        "A11",
        _api_invokes_serving_function,
    ),
    stack_policy(
        "api-permission-scoped",
        "API Gateway may invoke the function only from this stack's API.",
        "A12",
        _api_permission,
    ),
)
