"""Fargate guardrails: target group shape, task definitions and ECS services.

A2/A15 (ip targets on the app port, liveness checks, quick drain), A3 (a
service waits for its listener), A5/A6/A10 (valid container documents, its own
task role, a runtime platform), B4/B6/B7/B10 (no public IP, hardened
containers, secrets by SSM ARN, ``rediss://``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policies.base import (
    CONTAINER_PORT,
    Fail,
    PolicySpec,
    StackFail,
    StackView,
    as_json,
    as_list,
    number,
    resource_check,
    resource_policy,
    stack_check,
    stack_policy,
)
from infra.policies.resource_types import (
    T_ECS_SERVICE,
    T_LISTENER,
    T_TARGET_GROUP,
    T_TASK_DEFINITION,
)
from infra.policies.secrets import secret_like

# docs/contracts.md: the liveness route (no dependency calls).
LIVENESS_PATH: Final = "/health"
SSM_PARAMETER_ARN: Final = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/.+")


@resource_check(T_TARGET_GROUP)
def _target_group(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A2 and the target-group half of A15."""
    if props.get("targetType") != "ip":
        fail(
            f"targetType is {props.get('targetType')!r}",
            'set target_type="ip" (Fargate awsvpc tasks register by IP)',
        )
    if props.get("protocol") != "HTTP":
        fail(f"protocol is {props.get('protocol')!r}", 'set protocol="HTTP"')
    if number(props.get("port")) != CONTAINER_PORT:
        fail(f"port is {props.get('port')!r}", f"set port={CONTAINER_PORT} (the container port)")
    check = props.get("healthCheck") or {}
    if check.get("path") != LIVENESS_PATH:
        fail(
            f"health check path is {check.get('path')!r}",
            f'set health_check.path="{LIVENESS_PATH}" (liveness, no dependency calls)',
        )
    if str(check.get("matcher")) != "200":
        fail(f"health check matcher is {check.get('matcher')!r}", 'set health_check.matcher="200"')
    delay = number(props.get("deregistrationDelay"))
    if delay is None or delay > 30:
        fail(
            f"deregistration delay is {props.get('deregistrationDelay')!r} (default 300 s)",
            "set deregistration_delay to 30 or less",
        )


def _container_definition_errors(definitions: object) -> list[str]:
    """Errors botocore's ECS model finds in a containerDefinitions document (A5)."""
    from botocore.model import ListShape, Shape, StructureShape
    from botocore.validate import ParamValidator

    shape = _register_task_definition_shape()
    request = {"family": "validation", "containerDefinitions": definitions}
    report = ParamValidator().validate(request, shape)
    errors = (
        # Drop the offending value from botocore's line: it could be a secret.
        [
            re.sub(r", value: .*?, type:", ", type:", line.strip())
            for line in report.generate_report().splitlines()
            if line.strip()
        ]
        if report.has_errors()
        else []
    )

    def enums(value: object, member: Shape, path: str) -> None:
        if isinstance(member, StructureShape) and isinstance(value, Mapping):
            for key, sub in member.members.items():
                if key in value:
                    enums(value[key], sub, f"{path}.{key}")
        elif isinstance(member, ListShape) and isinstance(value, list):
            for index, item in enumerate(value):
                enums(item, member.member, f"{path}[{index}]")
        else:
            # botocore's Shape has ``enum`` only on string shapes with one.
            allowed: list[str] = getattr(member, "enum", None) or []
            if allowed and isinstance(value, str) and value not in allowed:
                errors.append(f"{path}: {value!r} is not one of {', '.join(allowed)}")

    enums(definitions, shape.members["containerDefinitions"], "containerDefinitions")
    return errors


@cache
def _register_task_definition_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


@resource_check(T_TASK_DEFINITION)
def _task_definition(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A5, A6 (separate task role), A10 (runtime platform set), B6, B7, B10 (rediss://)."""
    definitions = as_json(props.get("containerDefinitions"))
    if not isinstance(definitions, list) or not definitions:
        fail(
            "containerDefinitions is not a JSON list of containers",
            "render the document with infra.documents.task_definition",
        )
        return
    for error in _container_definition_errors(definitions):
        fail(
            f"containerDefinitions fails the ECS RegisterTaskDefinition model: {error}",
            "use camelCase keys, int ports and the documented enums",
        )
    if props.get("executionRoleArn") and props.get("executionRoleArn") == props.get("taskRoleArn"):
        fail(
            "the task role is the execution role",
            "give the application its own task role, separate from the ECS agent's execution role",
        )
    platform = props.get("runtimePlatform") or {}
    if not platform.get("cpuArchitecture"):
        fail(
            "runtimePlatform.cpuArchitecture is not set",
            "set it from cpuArchitecture (the image's architecture)",
        )
    volumes = {
        volume.get("name")
        for volume in as_list(props.get("volumes"))
        if isinstance(volume, Mapping)
    }
    for container in definitions:
        if isinstance(container, Mapping):
            _check_container(container, volumes, fail)


def _check_container(container: Mapping[str, Any], volumes: set[Any], fail: Fail) -> None:
    """B6 (hardened, logging container), then B7 and B10 on its environment and secrets."""
    who = f"container {container.get('name')!r}"
    if container.get("privileged"):
        fail(f"{who} is privileged", "remove privileged")
    user = str(container.get("user") or "")
    if user.split(":")[0] in ("", "0", "root"):
        fail(
            f"{who} runs as root (user {user!r})",
            'set user to a non-root uid such as "10001:10001"',
        )
    if container.get("readonlyRootFilesystem") is not True:
        fail(f"{who} has a writable root filesystem", "set readonlyRootFilesystem=true")
    tmp_mounts = [
        mount
        for mount in as_list(container.get("mountPoints"))
        if isinstance(mount, Mapping)
        and mount.get("containerPath") == "/tmp"  # noqa: S108 (the container's tmp)
        and not mount.get("readOnly")
        and mount.get("sourceVolume") in volumes
    ]
    if not tmp_mounts:
        fail(
            f"{who} has no writable /tmp volume",
            "mount a task volume at /tmp with readOnly=false",
        )
    logs = container.get("logConfiguration") or {}
    if logs.get("logDriver") != "awslogs":
        fail(
            f"{who} does not log with awslogs",
            "set logConfiguration.logDriver=awslogs with group, region and stream prefix",
        )
    _check_container_secrets(container, who, fail)


def _check_container_secrets(container: Mapping[str, Any], who: str, fail: Fail) -> None:
    """B7 (secrets by SSM parameter ARN, never in the environment) and B10 (rediss://)."""
    for variable in as_list(container.get("environment")):
        name = str(variable.get("name", "")) if isinstance(variable, Mapping) else ""
        if secret_like(name):
            fail(
                f"{who} has the secret {name} in its plain environment",
                "pass it through secrets[].valueFrom (an SSM parameter ARN)",
            )
        if name == "REDIS_URL" and not str(variable.get("value", "")).startswith("rediss://"):
            fail(
                f"{who} reaches Redis without TLS (REDIS_URL is not rediss://)",
                "build REDIS_URL as rediss://<primary endpoint>:6379/0",
            )
    for secret in as_list(container.get("secrets")):
        value_from = str(secret.get("valueFrom", "")) if isinstance(secret, Mapping) else ""
        if not SSM_PARAMETER_ARN.match(value_from):
            fail(
                f"{who} takes secret {secret.get('name')!r} from {value_from!r}",
                "use the SSM parameter's full ARN in valueFrom",
            )


@resource_check(T_ECS_SERVICE)
def _ecs_service(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A15 (the service half) and B4 (no public IP on tasks)."""
    network = props.get("networkConfiguration") or {}
    if network.get("assignPublicIp"):
        fail(
            "tasks get a public IP",
            "set network_configuration.assign_public_ip=False and run tasks in private subnets",
        )
    breaker = props.get("deploymentCircuitBreaker") or {}
    if not (breaker.get("enable") and breaker.get("rollback")):
        fail(
            "no deployment circuit breaker with rollback",
            "set deployment_circuit_breaker enable=True, rollback=True",
        )
    if props.get("waitForSteadyState") is not True:
        fail("pulumi does not wait for steady state", "set wait_for_steady_state=True")
    if props.get("loadBalancers") and not number(props.get("healthCheckGracePeriodSeconds")):
        fail(
            "no health check grace period behind a load balancer",
            "set health_check_grace_period_seconds (healthCheckGraceSeconds)",
        )


@stack_check
def _service_after_listener(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A3: a service behind a target group depends on the listener that forwards to it."""
    for service in view.of_type(T_ECS_SERVICE):
        groups = view.refs(service, "loadBalancers", T_TARGET_GROUP)
        depended = {dependency.urn for dependency in service.dependencies}
        for group in groups:
            listeners = view.referring(group, "defaultActions", T_LISTENER)
            if not listeners or not any(listener.urn in depended for listener in listeners):
                fail(
                    service,
                    f"does not depend on a listener forwarding to {group.name}",
                    "add depends_on=[listener] "
                    "(ECS refuses a target group without a load balancer)",
                )


SPECS: Final[tuple[PolicySpec, ...]] = (
    resource_policy(
        "target-group-fargate-shape",
        "Fargate target groups: ip targets, HTTP on the app port, /health, 200, quick drain.",
        "A2 A15",
        _target_group,
    ),
    resource_policy(
        "ecs-task-definition",
        "Task definitions: valid container documents, hardened containers, secrets by ARN.",
        "A5 A6 A10 B6 B7 B10",
        _task_definition,
    ),
    resource_policy(
        "ecs-service-deployment",
        "ECS services: circuit breaker, steady-state wait, grace period, no public IP.",
        "A15 B4",
        _ecs_service,
    ),
    stack_policy(
        "service-depends-on-listener",
        "An ECS service behind a target group depends on its listener.",
        "A3",
        _service_after_listener,
    ),
)
