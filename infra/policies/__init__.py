"""Guardrails as pulumi-policy validators, one per group of INVARIANTS.md lines.

Every policy judges what ``pulumi preview`` would send to AWS from the
resources' properties alone, so ``pulumi preview --policy-pack policy`` (see
``policy/__main__.py``, the only place a ``PolicyPack`` is built) refuses a
stack that breaks an invariant before anything reaches AWS. The invariant ids
each policy covers are in ``INVARIANTS_BY_POLICY`` and docs/policies.md.

Resource policies receive the resource's *inputs* (camelCase keys); stack
policies receive every resource's *outputs* plus its dependencies, which is
how references between resources (a service's target group, a rule's
security group) are followed.

Prod-only rules (the ``P:`` lines) read ``production`` from the policy's own
config when it is set there (tests set it), and otherwise from the stack's
``fastapi-on-aws:production`` key, which the engine hands to policy packs in
``PULUMI_CONFIG``.

Every message names the resource and says how to fix it. No message ever
includes a property value that may be a secret.

One module per concern, each ending with its ``SPECS``; this module puts
them in the pack's order:

    base.py             readers, check decorators, StackView, PolicySpec
    resource_types.py   the T_* type tokens
    network.py          subnets, multi-AZ and private placement, egress
    security_groups.py  descriptions, world ingress, group-to-group rules
    load_balancer.py    name length, ALB hardening, HTTP redirects
    fargate.py          target group, task definitions, ECS services
    serverless.py       Lambda functions, the HTTP API and its permission
    database.py         RDS instance, TLS parameter group, RDS Proxy
    cache.py            Redis replication and subnet groups
    secrets.py          SecureStrings, generated passwords, no plaintext
    iam.py              least privilege, trust, runtime role scope
    images.py           ECR repository and lifecycle, one CPU architecture
    observability.py    log retention, Container Insights, ALB and RDS telemetry
    access_logs.py      the ALB access-log bucket
    identity.py         Cognito user pools, app clients, identity pools
    tagging.py          required tags
    deploy_safety.py    explicit names, allowed accounts
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pulumi_policy import Policy

from infra.policies import (
    access_logs,
    cache,
    database,
    deploy_safety,
    fargate,
    iam,
    identity,
    images,
    load_balancer,
    network,
    observability,
    secrets,
    security_groups,
    serverless,
    tagging,
)
from infra.policies.base import PolicySpec as PolicySpec
from infra.policies.base import StackView as StackView
from infra.policies.base import is_production as is_production

# Every T_* token, importable from ``infra.policies`` as before the split.
from infra.policies.resource_types import *  # noqa: F403
from infra.policies.secrets import secret_like
from infra.policies.serverless import MIGRATE_FUNCTION_SUFFIX as MIGRATE_FUNCTION_SUFFIX

# The name tests/infra/components/test_secrets.py has always used.
_secret_like = secret_like

CONCERN_MODULES: Final = (
    network,
    security_groups,
    load_balancer,
    fargate,
    serverless,
    database,
    cache,
    secrets,
    iam,
    images,
    observability,
    access_logs,
    identity,
    tagging,
    deploy_safety,
)

# The pack's order (the order pulumi reports in): kept from the single-module pack.
PACK_ORDER: Final = (
    "target-group-fargate-shape",
    "ecs-task-definition",
    "ecs-service-deployment",
    "load-balancer-name-length",
    "lambda-function",
    "http-api",
    "rds-proxy",
    "security-group-descriptions",
    "no-public-ip-on-launch",
    "ecr-repository",
    "ssm-secure-string",
    "rds-instance",
    "rds-parameter-group-tls",
    "redis-replication-group",
    "generated-password-charset",
    "log-group-retention",
    "ecs-container-insights",
    "alb-hardening",
    "iam-least-privilege",
    "required-tags",
    "explicit-names-delete-before-replace",
    "allowed-account-ids",
    "proxy-multi-az",
    "role-trusts-its-user",
    "multi-az-placement",
    "service-depends-on-listener",
    "runtime-role-scope",
    "single-cpu-architecture",
    "world-ingress-only-to-alb",
    "ingress-from-security-groups",
    "ecr-lifecycle-policy",
    "no-plaintext-secrets",
    "rds-uses-tls-parameter-group",
    "redis-own-subnet-group",
    "https-redirects-http",
    "lambda-vpc-access",
    "api-invokes-serving-function",
    "api-permission-scoped",
    "private-placement",
    "private-egress-path",
    "alb-telemetry",
    "access-log-bucket",
    "rds-telemetry",
    "rds-parameter-group-logging",
    "rds-monitoring-role",
    "proxy-secret-follows-password",
    "cognito-user-pool",
    "cognito-app-client",
    "cognito-identity-pool",
)

_BY_NAME: Final[Mapping[str, PolicySpec]] = {
    spec.name: spec for module in CONCERN_MODULES for spec in module.SPECS
}
# A name missing from a module fails here, at import; a module's spec missing
# from PACK_ORDER fails tests/infra/policies/test_pack.py.
SPECS: Final[tuple[PolicySpec, ...]] = tuple(_BY_NAME[name] for name in PACK_ORDER)

POLICIES: Final[list[Policy]] = [spec.policy for spec in SPECS]
INVARIANTS_BY_POLICY: Final[Mapping[str, tuple[str, ...]]] = {
    spec.name: spec.invariants for spec in SPECS
}
