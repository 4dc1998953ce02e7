"""The Fargate compute shape: the service on ECS Fargate behind an ALB.

One ComponentResource (``component.FargateService``) holds everything the
shape adds on top of the shared layers, built in named steps, one module per
concern:

- ``service``: the cluster, and the ECS service with safe rollouts;
- ``task``: the log group, the execution and task roles, the task definition;
- ``security_groups``: the ALB's and the tasks' groups, and the rules that let
  the tasks reach the database and the cache;
- ``load_balancer``: the ALB with its listeners and target group;
- ``autoscaling``: target tracking on CPU and on requests per target;
- ``component``: the steps in order, the alarms, the outputs, ``build_fargate``.

Switching a stack to ``compute: lambda`` deletes exactly this component; the
data layers keep their URNs (INVARIANT C1). The documents (container
definitions, IAM policies) come from the pure functions in
``infra.documents.task_definition``; these modules only wire Outputs to them.
"""

from __future__ import annotations

from infra.components.fargate.autoscaling import (
    SCALE_IN_COOLDOWN_SECONDS,
    SCALE_OUT_COOLDOWN_SECONDS,
)
from infra.components.fargate.component import COMPONENT_TYPE, FargateService, build_fargate
from infra.components.fargate.load_balancer import (
    DEREGISTRATION_DELAY_SECONDS,
    HTTP_PORT,
    HTTPS_PORT,
    TLS_POLICY,
)
from infra.components.fargate.security_groups import POSTGRES_PORT, REDIS_PORT, WORLD_IPV4
from infra.components.fargate.settings import FargateServiceArgs, FargateSettings

__all__ = [
    "COMPONENT_TYPE",
    "DEREGISTRATION_DELAY_SECONDS",
    "HTTPS_PORT",
    "HTTP_PORT",
    "POSTGRES_PORT",
    "REDIS_PORT",
    "SCALE_IN_COOLDOWN_SECONDS",
    "SCALE_OUT_COOLDOWN_SECONDS",
    "TLS_POLICY",
    "WORLD_IPV4",
    "FargateService",
    "FargateServiceArgs",
    "FargateSettings",
    "build_fargate",
]
