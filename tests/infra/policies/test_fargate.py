"""Fargate policies (infra/policies/fargate.py): target group, tasks, services.

Every case breaks one real resource of a mocked stack and expects the policy to
name it and the fix (tests/infra/policies/helpers.py runs it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.policies import fargate
from infra.policies.resource_types import (
    T_ECS_SERVICE,
    T_LISTENER,
    T_TARGET_GROUP,
    T_TASK_DEFINITION,
)
from tests.infra.conftest import BuildStack
from tests.infra.policies.helpers import (
    DELETE,
    DF,
    PF,
    Bad,
    Props,
    assert_reported,
    drop_dependency,
    set_path,
)


def _containers(change: Callable[[dict[str, Any]], None]) -> Callable[[Props], None]:
    """Edit the first container of a containerDefinitions JSON string."""

    def mutate(props: Props) -> None:
        containers = json.loads(props["containerDefinitions"])
        change(containers[0])
        props["containerDefinitions"] = json.dumps(containers)

    return mutate


BAD: tuple[Bad, ...] = (
    Bad(
        "target-group-fargate-shape",
        DF,
        T_TARGET_GROUP,
        "tg",
        set_path("targetType", "instance"),
        ("target_type",),
    ),
    Bad(
        "target-group-fargate-shape",
        PF,
        T_TARGET_GROUP,
        "tg",
        set_path("healthCheck.path", "/health/ready"),
        ("/health",),
    ),
    Bad(
        "target-group-fargate-shape",
        DF,
        T_TARGET_GROUP,
        "tg",
        set_path("deregistrationDelay", DELETE),
        ("deregistration_delay",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        _containers(lambda c: c.update(portMappings=[{"containerPort": "8000"}])),
        ("RegisterTaskDefinition",),
    ),
    Bad(
        "ecs-task-definition",
        PF,
        T_TASK_DEFINITION,
        "task",
        _containers(lambda c: c.update(user="root")),
        ("root", "non-root"),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        _containers(lambda c: c.update(privileged=True)),
        ("privileged",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        _containers(lambda c: c.update(readonlyRootFilesystem=False)),
        ("readonlyRootFilesystem",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        _containers(lambda c: c.update(mountPoints=[])),
        ("/tmp",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        _containers(lambda c: c.update(logConfiguration={"logDriver": "json-file"})),
        ("awslogs",),
    ),
    Bad(
        "ecs-task-definition",
        PF,
        T_TASK_DEFINITION,
        "task",
        _containers(
            lambda c: c["environment"].append(
                {"name": "DATABASE_PASSWORD", "value": "hunter2hunter2"}
            )
        ),
        ("secrets[].valueFrom",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        _containers(lambda c: c["secrets"][0].update(valueFrom="/fastapi-on-aws/dev/api-token")),
        ("full ARN",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        _containers(
            lambda c: [
                e.update(value="redis://h:6379/0")
                for e in c["environment"]
                if e["name"] == "REDIS_URL"
            ]
        ),
        ("rediss://",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        lambda p: p.update(taskRoleArn=p["executionRoleArn"]),
        ("own task role",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        T_TASK_DEFINITION,
        "task",
        set_path("runtimePlatform", DELETE),
        ("cpuArchitecture",),
    ),
    Bad(
        "ecs-service-deployment",
        DF,
        T_ECS_SERVICE,
        "service",
        set_path("networkConfiguration.assignPublicIp", True),
        ("assign_public_ip",),
    ),
    Bad(
        "ecs-service-deployment",
        PF,
        T_ECS_SERVICE,
        "service",
        set_path("deploymentCircuitBreaker.rollback", False),
        ("circuit_breaker",),
    ),
    Bad(
        "ecs-service-deployment",
        DF,
        T_ECS_SERVICE,
        "service",
        set_path("waitForSteadyState", False),
        ("wait_for_steady_state",),
    ),
    Bad(
        "ecs-service-deployment",
        DF,
        T_ECS_SERVICE,
        "service",
        set_path("healthCheckGracePeriodSeconds", DELETE),
        ("grace",),
    ),
    Bad(
        "service-depends-on-listener",
        PF,
        T_ECS_SERVICE,
        "service",
        drop_dependency(T_LISTENER),
        ("depends_on=[listener]",),
    ),
)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    assert_reported(build_stack, bad)


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy of fargate.py."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in fargate.SPECS}
