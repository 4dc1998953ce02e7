"""The policy pack (infra/policies/), exercised both ways through each policy's ``validate``.

Positive: the four real stacks (dev/prod x fargate/lambda) from the mocks
harness raise no violation. Negative: for every policy, a deliberately broken
copy of a real resource is reported, and the message names the resource and
the fix. The args objects are built from the harness's records the way the
engine builds them: resource policies see inputs, stack policies see outputs
plus dependencies and property dependencies.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from infra import policies
from infra.policies import INVARIANTS_BY_POLICY, SPECS
from tests.infra.conftest import VARIANTS, BuildStack
from tests.infra.harness import REPO_ROOT, ResourceRecord, StackResult

Props = dict[str, Any]


def _policy_config(result: StackResult) -> dict[str, Any]:
    """What a stack's policy config says: its ``production`` flag (read by prod-only rules)."""
    return {"production": result.config.get("fastapi-on-aws:production") == "true"}


def _provider(result: StackResult) -> PolicyProviderResource:
    """The default AWS provider as the engine describes it: the stack's aws: config."""
    props = {
        key.partition(":")[2]: value
        for key, value in result.config.items()
        if key.startswith("aws:")
    }
    urn = f"urn:pulumi:{result.stack}::fastapi-on-aws::pulumi:providers:aws::default"
    return PolicyProviderResource("pulumi:providers:aws", props, urn, "default")


def _options(record: ResourceRecord) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record.protect,
        ignore_changes=list(record.ignore_changes),
        delete_before_replace=record.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(record.additional_secret_outputs),
        parent=record.parent,
    )


def resource_args(
    result: StackResult,
    record: ResourceRecord,
    props: Mapping[str, Any] | None = None,
    *,
    protect: bool | None = None,
    provider: PolicyProviderResource | None = None,
) -> ResourceValidationArgs:
    """What the engine hands a resource policy for ``record`` (inputs, options, provider)."""
    options = _options(record)
    if protect is not None:
        options.protect = protect
    return ResourceValidationArgs(
        record.type,
        # The engine wraps props in read-only Mapping/Sequence proxies, not dicts/lists.
        unknown_checking_proxy(copy.deepcopy(dict(record.inputs if props is None else props))),
        record.urn,
        record.name,
        options,
        provider or (_provider(result) if record.type.startswith("aws:") else None),
        _policy_config(result),
    )


def stack_resources(result: StackResult) -> list[PolicyResource]:
    """Every resource as a stack policy sees it: outputs, parent, dependencies."""
    by_urn: dict[str, PolicyResource] = {}
    for record in result.resources:
        by_urn[record.urn] = PolicyResource(
            record.type,
            copy.deepcopy(record.outputs),
            record.urn,
            record.name,
            _options(record),
            None,
            None,
            [],
            {},
        )
    for record in result.resources:
        resource = by_urn[record.urn]
        resource.parent = by_urn.get(record.parent or "")
        resource.dependencies.extend(by_urn[urn] for urn in record.depends_on if urn in by_urn)
        for key, urns in record.property_dependencies.items():
            resource.property_dependencies[key] = [by_urn[urn] for urn in urns if urn in by_urn]
    return list(by_urn.values())


def _as_engine_sends(resources: list[PolicyResource]) -> list[PolicyResource]:
    """A copy of ``resources`` whose props are the engine's read-only proxies."""
    clones = {
        resource.urn: PolicyResource(
            resource.resource_type,
            unknown_checking_proxy(copy.deepcopy(dict(resource.props))),
            resource.urn,
            resource.name,
            resource.opts,
            None,
            None,
            [],
            {},
        )
        for resource in resources
    }
    for resource in resources:
        clone = clones[resource.urn]
        clone.parent = clones.get(resource.parent.urn) if resource.parent else None
        clone.dependencies.extend(clones[d.urn] for d in resource.dependencies)
        for key, deps in resource.property_dependencies.items():
            clone.property_dependencies[key] = [clones[d.urn] for d in deps]
    return list(clones.values())


def stack_args(
    result: StackResult, resources: list[PolicyResource] | None = None
) -> StackValidationArgs:
    """What the engine hands a stack policy (``resources`` stay editable; the copy is not)."""
    raw = resources if resources is not None else stack_resources(result)
    return StackValidationArgs(_as_engine_sends(raw), _policy_config(result))


def _run(
    policy: ResourceValidationPolicy | StackValidationPolicy,
    args: ResourceValidationArgs | StackValidationArgs,
) -> list[str]:
    """Call a policy's ``validate`` and return the messages it reported."""
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        del urn
        messages.append(message)

    outcome = policy.validate(args, report)  # type: ignore[arg-type]
    assert outcome is None, "policies are synchronous: nothing to await"
    return messages


def all_violations(result: StackResult) -> list[str]:
    """Run every policy of the pack over a whole stack."""
    found: list[str] = []
    stack = stack_args(result)
    for spec in SPECS:
        policy = spec.policy
        if isinstance(policy, StackValidationPolicy):
            found += [f"[{spec.name}] {m}" for m in _run(policy, stack)]
            continue
        for record in result.resources:
            args = resource_args(result, record)
            found += [f"[{spec.name}] {m}" for m in _run(policy, args)]
    return found


# ------------------------------------------------------------------ positive


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=[f"{s}-{c}" for s, c in VARIANTS])
def test_real_stacks_raise_no_violation(build_stack: BuildStack, stack: str, compute: str) -> None:
    """All four real stacks pass every policy (A1-A3 A5-A15 B1-B15 C2-C5 C7)."""
    result = build_stack(stack, compute=compute)
    assert all_violations(result) == []


def test_every_policy_is_mandatory_and_named_once() -> None:
    """The pack blocks on violations, and names are unique."""
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names))
    for spec in SPECS:
        assert spec.policy.enforcement_level.value == "mandatory", spec.name
        assert spec.invariants, spec.name


# ------------------------------------------------------------------ negative


@dataclass(frozen=True)
class Bad:
    """One deliberately broken resource and what the policy must say about it."""

    policy: str
    variant: tuple[str, str]
    type_: str
    name_suffix: str
    # Resource policies: mutate the inputs. Stack policies: mutate the record's
    # PolicyResource (props, dependencies) inside the whole stack.
    mutate: Callable[[Any], None]
    expect: tuple[str, ...]
    protect: bool | None = None
    no_accounts: bool = False
    # The resource the message must name, when it is not the edited one.
    reports: str | None = None

    @property
    def id(self) -> str:
        """Test id."""
        return f"{self.policy}:{self.expect[0][:40]}"


def _set(path: str, value: object) -> Callable[[Props], None]:
    """Set a dotted path (list indexes as digits) in a props dict."""

    def mutate(props: Props) -> None:
        keys = path.split(".")
        node: Any = props
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        last = keys[-1]
        if value is _DELETE:
            node.pop(last, None)
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()
GITHUB_OIDC = "token.actions.githubusercontent.com"


def _containers(change: Callable[[dict[str, Any]], None]) -> Callable[[Props], None]:
    """Edit the first container of a containerDefinitions JSON string."""

    def mutate(props: Props) -> None:
        containers = json.loads(props["containerDefinitions"])
        change(containers[0])
        props["containerDefinitions"] = json.dumps(containers)

    return mutate


def _props(change: Callable[[Props], None]) -> Callable[[PolicyResource], None]:
    """A stack-policy mutation that edits one resource's outputs."""

    def mutate(resource: PolicyResource) -> None:
        change(resource.props)  # type: ignore[arg-type]

    return mutate


def _drop_dependency(type_: str, key: str | None = None) -> Callable[[PolicyResource], None]:
    def mutate(resource: PolicyResource) -> None:
        resource.dependencies[:] = [d for d in resource.dependencies if d.resource_type != type_]
        for prop, deps in resource.property_dependencies.items():
            if key is None or prop == key:
                deps[:] = [d for d in deps if d.resource_type != type_]

    return mutate


def _both(*steps: Callable[[Any], None]) -> Callable[[Any], None]:
    def mutate(target: Any) -> None:
        for step in steps:
            step(target)

    return mutate


def _parameter(name: str, value: object) -> Callable[[Props], None]:
    """Set (or, with ``_DELETE``, drop) one parameter of a parameter group's inputs."""

    def mutate(props: Props) -> None:
        kept = [item for item in props["parameters"] if item["name"] != name]
        if value is not _DELETE:
            kept.append({"name": name, "value": value, "applyMethod": "immediate"})
        props["parameters"] = kept

    return mutate


def _bucket_policy(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[Any], None]:
    """A stack-policy mutation that edits the statements of a bucket policy's outputs."""

    def mutate(resource: PolicyResource) -> None:
        props: Any = resource.props
        document = json.loads(props["policy"])
        change(document["Statement"])
        props["policy"] = json.dumps(document)

    return mutate


def _allow(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return next(item for item in statements if item["Effect"] == "Allow")


LB = policies.T_LOAD_BALANCER
BUCKET = "access-logs-bucket"
MONITORING_ROLE = "database-monitoring-role"


DF, PF, DL, PL = ("dev", "fargate"), ("prod", "fargate"), ("dev", "lambda"), ("prod", "lambda")
TG, TD, SVC = policies.T_TARGET_GROUP, policies.T_TASK_DEFINITION, policies.T_ECS_SERVICE
FN, RDS, REDIS = policies.T_LAMBDA, policies.T_RDS_INSTANCE, policies.T_REDIS
SG, IN = policies.T_SECURITY_GROUP, policies.T_INGRESS_RULE

BAD: tuple[Bad, ...] = (
    Bad(
        "target-group-fargate-shape", DF, TG, "tg", _set("targetType", "instance"), ("target_type",)
    ),
    Bad(
        "target-group-fargate-shape",
        PF,
        TG,
        "tg",
        _set("healthCheck.path", "/health/ready"),
        ("/health",),
    ),
    Bad(
        "target-group-fargate-shape",
        DF,
        TG,
        "tg",
        _set("deregistrationDelay", _DELETE),
        ("deregistration_delay",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        TD,
        "task",
        _containers(lambda c: c.update(portMappings=[{"containerPort": "8000"}])),
        ("RegisterTaskDefinition",),
    ),
    Bad(
        "ecs-task-definition",
        PF,
        TD,
        "task",
        _containers(lambda c: c.update(user="root")),
        ("root", "non-root"),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        TD,
        "task",
        _containers(lambda c: c.update(privileged=True)),
        ("privileged",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        TD,
        "task",
        _containers(lambda c: c.update(readonlyRootFilesystem=False)),
        ("readonlyRootFilesystem",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        TD,
        "task",
        _containers(lambda c: c.update(mountPoints=[])),
        ("/tmp",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        TD,
        "task",
        _containers(lambda c: c.update(logConfiguration={"logDriver": "json-file"})),
        ("awslogs",),
    ),
    Bad(
        "ecs-task-definition",
        PF,
        TD,
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
        TD,
        "task",
        _containers(lambda c: c["secrets"][0].update(valueFrom="/fastapi-on-aws/dev/api-token")),
        ("full ARN",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        TD,
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
        TD,
        "task",
        lambda p: p.update(taskRoleArn=p["executionRoleArn"]),
        ("own task role",),
    ),
    Bad(
        "ecs-task-definition",
        DF,
        TD,
        "task",
        _set("runtimePlatform", _DELETE),
        ("cpuArchitecture",),
    ),
    Bad(
        "ecs-service-deployment",
        DF,
        SVC,
        "service",
        _set("networkConfiguration.assignPublicIp", True),
        ("assign_public_ip",),
    ),
    Bad(
        "ecs-service-deployment",
        PF,
        SVC,
        "service",
        _set("deploymentCircuitBreaker.rollback", False),
        ("circuit_breaker",),
    ),
    Bad(
        "ecs-service-deployment",
        DF,
        SVC,
        "service",
        _set("waitForSteadyState", False),
        ("wait_for_steady_state",),
    ),
    Bad(
        "ecs-service-deployment",
        DF,
        SVC,
        "service",
        _set("healthCheckGracePeriodSeconds", _DELETE),
        ("grace",),
    ),
    Bad("load-balancer-name-length", DF, TG, "tg", _set("name", "x" * 33), ("at most 24",)),
    Bad("lambda-function", DL, FN, "app-function", _set("packageType", "Zip"), ("package_type",)),
    Bad(
        "lambda-function",
        PL,
        FN,
        "app-function",
        lambda p: p.update(imageUri=p["imageUri"].split("@")[0] + ":latest"),
        ("digest",),
    ),
    Bad(
        "lambda-function",
        DL,
        FN,
        "app-function",
        _set("imageConfig.commands", ["main.handler"]),
        ("lambda_handler.handler",),
    ),
    Bad("lambda-function", DL, FN, "app-function", _set("timeout", 30), ("below",)),
    Bad(
        "lambda-function",
        DL,
        FN,
        "app-function",
        _set("environment.variables.API_TOKEN", "plaintext-token-value"),
        ("API_TOKEN_SSM_PARAMETER",),
    ),
    Bad(
        "lambda-function",
        DL,
        FN,
        "app-function",
        _set("environment.variables.REDIS_URL", "redis://h:6379/0"),
        ("rediss://",),
    ),
    Bad(
        "lambda-function",
        DL,
        FN,
        "app-function",
        _set("architectures", _DELETE),
        ("architectures",),
    ),
    Bad("lambda-function", PL, FN, "migrate-function", _set("timeout", 901), ("at most 900",)),
    Bad(
        "lambda-function",
        DL,
        FN,
        "migrate-function",
        _set("reservedConcurrentExecutions", -1),
        ("reserved_concurrent_executions=1",),
    ),
    Bad(
        "http-api",
        DL,
        policies.T_API_INTEGRATION,
        "integration",
        _set("payloadFormatVersion", "1.0"),
        ('payload_format_version="2.0"',),
    ),
    Bad(
        "http-api",
        DL,
        policies.T_API_INTEGRATION,
        "integration",
        _set("integrationType", "HTTP_PROXY"),
        ("AWS_PROXY",),
    ),
    Bad("http-api", PL, policies.T_API_STAGE, "stage", _set("name", "v1"), ('"$default"',)),
    Bad(
        "http-api",
        DL,
        policies.T_API_STAGE,
        "stage",
        _set("accessLogSettings", _DELETE),
        ("access_log_settings",),
    ),
    Bad(
        "http-api",
        DL,
        policies.T_API_STAGE,
        "stage",
        _set("defaultRouteSettings", {}),
        ("throttling",),
    ),
    Bad(
        "http-api",
        DL,
        policies.T_LAMBDA_PERMISSION,
        "invoke",
        _set("sourceArn", _DELETE),
        ("source_arn",),
    ),
    Bad(
        "rds-proxy", PL, policies.T_RDS_PROXY, "proxy", _set("requireTls", False), ("require_tls",)
    ),
    Bad(
        "rds-proxy",
        DL,
        policies.T_RDS_PROXY,
        "proxy",
        _set("auths.0", {"authScheme": "SECRETS", "iamAuth": "DISABLED"}),
        ("secret_arn",),
    ),
    Bad(
        "security-group-descriptions", DF, SG, "task-sg", _set("description", ""), ("description",)
    ),
    Bad(
        "security-group-descriptions",
        DL,
        IN,
        "proxy-in-function",
        _set("description", _DELETE),
        ("description",),
    ),
    Bad(
        "security-group-descriptions",
        PF,
        SG,
        "database-sg",
        _set(
            "ingress",
            [
                {
                    "protocol": "tcp",
                    "fromPort": 5432,
                    "toPort": 5432,
                    "description": "x",
                    "securityGroups": ["sg-1"],
                }
            ],
        ),
        ("separate",),
    ),
    Bad(
        "no-public-ip-on-launch",
        DF,
        policies.T_SUBNET,
        "private-0",
        _set("mapPublicIpOnLaunch", True),
        ("map_public_ip_on_launch",),
    ),
    Bad(
        "ecr-repository",
        DF,
        policies.T_ECR_REPOSITORY,
        "repository",
        _set("imageScanningConfiguration.scanOnPush", False),
        ("scan_on_push",),
    ),
    Bad(
        "ecr-repository",
        PL,
        policies.T_ECR_REPOSITORY,
        "repository",
        _set("imageTagMutability", "MUTABLE"),
        ("IMMUTABLE",),
    ),
    Bad(
        "ssm-secure-string",
        DF,
        policies.T_SSM_PARAMETER,
        "api-token",
        _set("type", "String"),
        ("SecureString",),
    ),
    Bad(
        "rds-instance", DF, RDS, "instance", _set("storageEncrypted", False), ("storage_encrypted",)
    ),
    Bad(
        "rds-instance",
        DL,
        RDS,
        "instance",
        _set("publiclyAccessible", True),
        ("publicly_accessible",),
    ),
    Bad("rds-instance", DF, RDS, "instance", _set("dbName", "my-app"), ("alphanumeric",)),
    Bad("rds-instance", DF, RDS, "instance", _set("engineVersion", "9.6"), ("PostgreSQL major",)),
    Bad(
        "rds-instance",
        PF,
        RDS,
        "instance",
        _set("finalSnapshotIdentifier", _DELETE),
        ("final_snapshot_identifier",),
    ),
    Bad(
        "rds-instance", DF, RDS, "instance", _set("password", "pass word/with@bad"), ("characters",)
    ),
    Bad(
        "rds-instance",
        DF,
        RDS,
        "instance",
        _set("autoMinorVersionUpgrade", False),
        ("auto_minor_version_upgrade",),
    ),
    Bad("rds-instance", PF, RDS, "instance", _set("backupRetentionPeriod", 3), ("at least 7",)),
    Bad(
        "rds-instance",
        PL,
        RDS,
        "instance",
        _set("deletionProtection", False),
        ("dbDeletionProtection",),
    ),
    Bad("rds-instance", PF, RDS, "instance", _set("multiAz", False), ("dbMultiAz",)),
    Bad(
        "rds-instance",
        PF,
        RDS,
        "instance",
        _set("skipFinalSnapshot", True),
        ("dbSkipFinalSnapshot",),
    ),
    Bad("rds-instance", PF, RDS, "instance", lambda p: None, ("protectData",), protect=False),
    Bad(
        "rds-parameter-group-tls",
        DF,
        policies.T_RDS_PARAMETER_GROUP,
        "params",
        _set("parameters", []),
        ("rds.force_ssl",),
    ),
    Bad(
        "redis-replication-group",
        DF,
        REDIS,
        "redis",
        _set("transitEncryptionEnabled", False),
        ("transit_encryption_enabled",),
    ),
    Bad(
        "redis-replication-group",
        DL,
        REDIS,
        "redis",
        _set("atRestEncryptionEnabled", False),
        ("at_rest_encryption_enabled",),
    ),
    Bad("redis-replication-group", DF, REDIS, "redis", _set("authToken", _DELETE), ("auth_token",)),
    Bad("redis-replication-group", DF, REDIS, "redis", _set("authToken", "short"), ("16 to 128",)),
    Bad(
        "redis-replication-group",
        DF,
        REDIS,
        "redis",
        _set("authToken", "a" * 20 + "@/"),
        ("characters",),
    ),
    Bad(
        "redis-replication-group",
        DF,
        REDIS,
        "redis",
        _set("subnetGroupName", _DELETE),
        ("subnet_group_name",),
    ),
    Bad(
        "redis-replication-group",
        PF,
        REDIS,
        "redis",
        _set("automaticFailoverEnabled", False),
        ("automatic_failover_enabled",),
    ),
    Bad(
        "redis-replication-group",
        PL,
        REDIS,
        "redis",
        _set("numCacheClusters", 1),
        ("cacheNodeCount",),
    ),
    Bad(
        "redis-replication-group",
        PF,
        REDIS,
        "redis",
        _set("multiAzEnabled", False),
        ("multi_az_enabled",),
    ),
    Bad(
        "redis-replication-group",
        PF,
        REDIS,
        "redis",
        _set("snapshotRetentionLimit", 0),
        ("cacheSnapshotRetentionDays",),
    ),
    Bad(
        "redis-replication-group",
        PL,
        REDIS,
        "redis",
        lambda p: None,
        ("protectData",),
        protect=False,
    ),
    Bad(
        "generated-password-charset",
        DF,
        policies.T_RANDOM_PASSWORD,
        "database-password",
        _set("overrideSpecial", _DELETE),
        ("override_special",),
    ),
    Bad(
        "generated-password-charset",
        DF,
        policies.T_RANDOM_PASSWORD,
        "redis-password",
        _set("overrideSpecial", "!@#"),
        ("override_special",),
    ),
    Bad(
        "log-group-retention",
        DF,
        policies.T_LOG_GROUP,
        "app-logs",
        _set("retentionInDays", _DELETE),
        ("retention_in_days",),
    ),
    Bad(
        "log-group-retention",
        PF,
        policies.T_LOG_GROUP,
        "app-logs",
        _set("retentionInDays", 30),
        ("logRetentionDays: 365",),
    ),
    Bad(
        "ecs-container-insights",
        PF,
        policies.T_ECS_CLUSTER,
        "cluster",
        _set("settings", []),
        ("containerInsights",),
    ),
    Bad(
        "alb-hardening",
        DF,
        policies.T_LOAD_BALANCER,
        "alb",
        _set("dropInvalidHeaderFields", False),
        ("drop_invalid_header_fields",),
    ),
    Bad(
        "alb-hardening",
        DF,
        policies.T_LOAD_BALANCER,
        "alb",
        _set("desyncMitigationMode", "monitor"),
        ("defensive",),
    ),
    Bad(
        "alb-hardening",
        PF,
        policies.T_LISTENER,
        "https",
        _set("sslPolicy", "ELBSecurityPolicy-2016-08"),
        ("TLS13",),
    ),
    Bad(
        "iam-least-privilege",
        DF,
        policies.T_ROLE_POLICY,
        "execution-secrets",
        _set(
            "policy",
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ),
        ("exact actions",),
    ),
    Bad(
        "iam-least-privilege",
        DL,
        policies.T_ROLE_ATTACHMENT,
        "vpc-access",
        _set("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ("AdministratorAccess",),
    ),
    Bad(
        "iam-least-privilege",
        DF,
        policies.T_ROLE,
        "task-role",
        _set(
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
        policies.T_ROLE,
        "task-role",
        _set(
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
        "required-tags",
        DF,
        policies.T_RDS_INSTANCE,
        "instance",
        lambda p: p["tags"].pop("compute"),
        ("compute", "register_stack_tags"),
    ),
    Bad(
        "required-tags", PL, FN, "app-function", _set("tags", _DELETE), ("project, stack, compute",)
    ),
    Bad(
        "explicit-names-delete-before-replace",
        DF,
        policies.T_TARGET_GROUP,
        "tg",
        _set("name", "fastapi-tg"),
        ("delete_before_replace",),
    ),
    Bad(
        "allowed-account-ids",
        PF,
        RDS,
        "instance",
        lambda p: None,
        ("allowedAccountIds",),
        no_accounts=True,
    ),
    # Stack policies: the named resource is edited inside the whole stack.
    Bad(
        "multi-az-placement",
        DF,
        policies.T_RDS_SUBNET_GROUP,
        "database-subnets",
        lambda r: [
            s.props.update(availabilityZone="eu-west-1a")
            for s in r.property_dependencies["subnetIds"]
        ],
        ("2 AZs",),
    ),
    Bad(
        "service-depends-on-listener",
        PF,
        SVC,
        "service",
        _drop_dependency(policies.T_LISTENER),
        ("depends_on=[listener]",),
    ),
    Bad(
        "runtime-role-scope",
        PF,
        policies.T_ROLE_POLICY,
        "execution-secrets",
        _props(
            _set(
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
        policies.T_ROLE_POLICY,
        "function-parameters",
        _props(
            _set(
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
        policies.T_ROLE_ATTACHMENT,
        "execution-managed",
        _props(_set("policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")),
        ("ECR",),
        reports="app-execution-role",
    ),
    Bad(
        "single-cpu-architecture",
        DL,
        FN,
        "app-function",
        _props(_set("architectures", ["arm64"])),
        ("cpuArchitecture",),
    ),
    Bad(
        "single-cpu-architecture",
        PF,
        TD,
        "task",
        _props(_set("runtimePlatform.cpuArchitecture", "ARM64")),
        ("mixes",),
    ),
    Bad(
        "world-ingress-only-to-alb",
        DF,
        IN,
        "task-in-alb",
        _props(lambda p: p.update(cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None)),
        ("whole internet",),
    ),
    Bad(
        "world-ingress-only-to-alb",
        PF,
        IN,
        "alb-in-443",
        _props(lambda p: p.update(fromPort=0, toPort=65535)),
        ("80 or 443",),
    ),
    Bad(
        "ingress-from-security-groups",
        PL,
        IN,
        "db-in-proxy",
        _props(lambda p: p.update(cidrIpv4="10.20.0.0/16", referencedSecurityGroupId=None)),
        ("referenced_security_group_id",),
    ),
    Bad(
        "ingress-from-security-groups",
        DF,
        IN,
        "cache-in-tasks",
        _props(lambda p: p.update(fromPort=0, toPort=65535)),
        ("only port 6379",),
    ),
    Bad(
        "ecr-lifecycle-policy",
        DF,
        policies.T_ECR_LIFECYCLE,
        "lifecycle",
        lambda r: r.property_dependencies.clear() or r.props.update(repository="other"),
        ("lifecycle policy",),
        reports="registry-repository",
    ),
    Bad(
        "no-plaintext-secrets",
        DL,
        FN,
        "app-function",
        lambda r: r.props["environment"]["variables"].update(EXTRA="x" + _ssm_value(r)),
        ("plain text",),
    ),
    Bad(
        "rds-uses-tls-parameter-group",
        DF,
        RDS,
        "instance",
        _both(
            _drop_dependency(policies.T_RDS_PARAMETER_GROUP),
            _props(_set("parameterGroupName", "default.postgres16")),
        ),
        ("rds.force_ssl=1",),
    ),
    Bad(
        "redis-own-subnet-group",
        PF,
        REDIS,
        "redis",
        _both(
            _drop_dependency(policies.T_CACHE_SUBNET_GROUP),
            _props(_set("subnetGroupName", "default")),
        ),
        ("aws.elasticache.SubnetGroup",),
    ),
    Bad(
        "https-redirects-http",
        PF,
        policies.T_LISTENER,
        "http-redirect",
        _props(_set("defaultActions", [{"type": "forward", "targetGroupArn": "x"}])),
        ("redirect to HTTPS",),
    ),
    Bad(
        "lambda-vpc-access",
        DL,
        policies.T_ROLE_ATTACHMENT,
        "vpc-access",
        _props(_set("policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")),
        ("AWSLambdaVPCAccessExecutionRole",),
        reports="app-function-role",
    ),
    Bad(
        "role-trusts-its-user",
        PF,
        policies.T_ROLE,
        "app-task-role",
        lambda r: _trust(r, "ecs.amazonaws.com"),
        ("only ecs-tasks.amazonaws.com assumes it",),
    ),
    Bad(
        "role-trusts-its-user",
        PL,
        policies.T_ROLE,
        "app-function-role",
        lambda r: _trust(r, "lambda.amazonaws.com", "edgelambda.amazonaws.com"),
        ("edgelambda.amazonaws.com",),
    ),
    Bad(
        "role-trusts-its-user",
        PL,
        policies.T_ROLE,
        "app-proxy-role",
        lambda r: _trust(r, "rds-db.amazonaws.com"),
        ("only rds.amazonaws.com assumes it",),
    ),
    Bad(
        "proxy-multi-az",
        PL,
        policies.T_RDS_PROXY,
        "proxy",
        lambda r: _keep_one_subnet(r, "vpcSubnetIds"),
        ("1 availability zone",),
    ),
    Bad(
        "api-invokes-serving-function",
        PL,
        policies.T_LAMBDA_PERMISSION,
        "invoke",
        lambda r: _point_at_migrate_function(r),
        ("outlasts the API's 30 s",),
    ),
    Bad(
        "api-permission-scoped",
        PL,
        policies.T_LAMBDA_PERMISSION,
        "invoke",
        _drop_dependency(policies.T_API),
        ("execution_arn",),
    ),
    Bad(
        "private-placement",
        PL,
        policies.T_RDS_PROXY,
        "proxy",
        lambda r: _swap_subnets(r, "vpcSubnetIds"),
        ("public subnets",),
    ),
    Bad(
        "private-placement",
        DF,
        SVC,
        "service",
        lambda r: _swap_subnets(r, "networkConfiguration"),
        ("public subnets",),
    ),
    Bad(
        "private-egress-path",
        DL,
        FN,
        "app-function",
        lambda r: _swap_subnets(r, "vpcConfig"),
        ("NAT gateway",),
    ),
    # --- B18: ALB access logs and deletion protection -----------------------------------
    Bad("alb-telemetry", PF, LB, "alb", _set("enableDeletionProtection", False), ("CKV_AWS_150",)),
    Bad("alb-telemetry", PF, LB, "alb", _set("accessLogs", _DELETE), ("CKV_AWS_91",)),
    Bad("alb-telemetry", DF, LB, "alb", _set("accessLogs", {"enabled": True}), ("a bucket",)),
    Bad(
        "access-log-bucket",
        PF,
        policies.T_S3_PUBLIC_ACCESS,
        "public-access",
        _props(lambda p: p.update(restrictPublicBuckets=False)),
        ("public access",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        policies.T_S3_ENCRYPTION,
        "encryption",
        _props(
            lambda p: p["rules"][0]["applyServerSideEncryptionByDefault"].update(
                sseAlgorithm="aws:kms"
            )
        ),
        ("SSE-S3 only",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        policies.T_S3_OWNERSHIP,
        "ownership",
        _props(lambda p: p["rule"].update(objectOwnership="ObjectWriter")),
        ("ACLs",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        policies.T_S3_LIFECYCLE,
        "lifecycle",
        _props(lambda p: p["rules"][0].update(status="Disabled")),
        ("never expire",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        policies.T_S3_POLICY,
        "policy",
        _bucket_policy(lambda st: _allow(st).update(Principal={"AWS": "*"})),
        ("not the region's ELB",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        policies.T_S3_POLICY,
        "policy",
        _bucket_policy(
            lambda st: _allow(st).update(Resource=_allow(st)["Resource"].split("/")[0] + "/*")
        ),
        ("outside the load balancer's prefix",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        policies.T_S3_POLICY,
        "policy",
        _bucket_policy(lambda st: st.__setitem__(slice(None), [_allow(st)])),
        ("without TLS",),
        reports=BUCKET,
    ),
    Bad(
        "access-log-bucket",
        PF,
        LB,
        "alb",
        _drop_dependency(policies.T_S3_POLICY),
        ("depend on its log bucket's policy",),
    ),
    # --- B19/B20: RDS telemetry and IAM authentication ----------------------------------
    Bad(
        "rds-telemetry",
        DL,
        RDS,
        "instance",
        _set("iamDatabaseAuthenticationEnabled", False),
        ("CKV_AWS_161",),
    ),
    Bad(
        "rds-telemetry",
        PF,
        RDS,
        "instance",
        _set("performanceInsightsEnabled", False),
        ("CKV_AWS_353",),
    ),
    Bad(
        "rds-telemetry",
        PF,
        RDS,
        "instance",
        _set("performanceInsightsRetentionPeriod", 0),
        ("less than 7 days",),
    ),
    Bad("rds-telemetry", PL, RDS, "instance", _set("monitoringInterval", 0), ("CKV_AWS_118",)),
    Bad(
        "rds-telemetry",
        PF,
        RDS,
        "instance",
        _set("monitoringRoleArn", _DELETE),
        ("monitoring_role_arn",),
    ),
    Bad(
        "rds-parameter-group-logging",
        DF,
        policies.T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_min_duration_statement", "-1"),
        ("slow statements",),
    ),
    Bad(
        "rds-parameter-group-logging",
        PF,
        policies.T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_min_duration_statement", "5000"),
        ("1000 or less",),
    ),
    Bad(
        "rds-parameter-group-logging",
        DL,
        policies.T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_statement", "none"),
        ("log_statement",),
    ),
    Bad(
        "rds-parameter-group-logging",
        DF,
        policies.T_RDS_PARAMETER_GROUP,
        "params",
        _parameter("log_lock_waits", _DELETE),
        ("lock waits",),
    ),
    Bad(
        "rds-monitoring-role",
        PF,
        policies.T_ROLE,
        "monitoring-role",
        _props(
            lambda p: p.update(
                assumeRolePolicy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "rds.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                )
            )
        ),
        ("trusts",),
    ),
    Bad(
        "rds-monitoring-role",
        PL,
        policies.T_ROLE_ATTACHMENT,
        "monitoring-managed",
        _props(lambda p: p.update(policyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")),
        ("AmazonRDSEnhancedMonitoringRole",),
        reports=MONITORING_ROLE,
    ),
    Bad(
        "rds-monitoring-role",
        PF,
        RDS,
        "instance",
        _both(
            _drop_dependency(policies.T_ROLE, "monitoringRoleArn"),
            _props(lambda p: p.update(monitoringRoleArn="arn:aws:iam::123456789012:role/other")),
        ),
        ("does not manage",),
    ),
    # --- C8: the proxy's secret follows the generated password ---------------------------
    Bad(
        "proxy-secret-follows-password",
        PL,
        policies.T_SECRET_VERSION,
        "proxy-credentials-value",
        _drop_dependency(policies.T_RANDOM_PASSWORD, "secretString"),
        ("generated password",),
        reports="app-proxy-credentials",
    ),
)


def _ssm_value(resource: PolicyResource) -> str:
    """A secret value from the stack the resource belongs to (set by the test)."""
    return str(_CURRENT_SECRET[0])


_CURRENT_SECRET: list[str] = [""]


def _swap_subnets(resource: PolicyResource, key: str) -> None:
    """Point a resource's subnet references at the public subnets (same stack)."""
    publics = [
        r for r in _CURRENT_RESOURCES if r.resource_type == policies.T_SUBNET and "public" in r.name
    ]
    deps = resource.property_dependencies[key]
    deps[:] = [d for d in deps if d.resource_type != policies.T_SUBNET] + publics


_CURRENT_RESOURCES: list[PolicyResource] = []


def _trust(resource: PolicyResource, *services: str) -> None:
    """Make a role's assume-role policy trust ``services`` instead."""
    document = resource.props["assumeRolePolicy"]
    parsed = json.loads(document) if isinstance(document, str) else copy.deepcopy(document)
    for statement in parsed["Statement"]:
        statement["Principal"] = {"Service": list(services) if len(services) > 1 else services[0]}
    resource.props["assumeRolePolicy"] = json.dumps(parsed)  # type: ignore[index]


def _keep_one_subnet(resource: PolicyResource, key: str) -> None:
    """Leave a resource with one of its subnets (one AZ)."""
    deps = resource.property_dependencies[key]
    subnets = [d for d in deps if d.resource_type == policies.T_SUBNET]
    deps[:] = [d for d in deps if d.resource_type != policies.T_SUBNET] + subnets[:1]


def _point_at_migrate_function(resource: PolicyResource) -> None:
    """Let the API's permission name the migrate function instead of the serving one."""
    migrate = [
        r
        for r in _CURRENT_RESOURCES
        if r.resource_type == FN and r.name.endswith(policies.MIGRATE_FUNCTION_SUFFIX)
    ]
    assert migrate, "the Lambda shape has a migrate function"
    deps = resource.property_dependencies["function"]
    deps[:] = [d for d in deps if d.resource_type != FN] + migrate


def _spec(name: str) -> ResourceValidationPolicy | StackValidationPolicy:
    return next(spec.policy for spec in SPECS if spec.name == name)


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_reports_a_bad_resource(build_stack: BuildStack, bad: Bad) -> None:
    """Each broken resource is reported, by name, with the fix."""
    stack, compute = bad.variant
    result = build_stack(stack, compute=compute)
    record = result.one(bad.type_, bad.name_suffix)
    policy = _spec(bad.policy)
    if isinstance(policy, ResourceValidationPolicy):
        props = copy.deepcopy(record.inputs)
        bad.mutate(props)
        provider = _provider(result)
        if bad.no_accounts:
            provider.props = {k: v for k, v in provider.props.items() if k != "allowedAccountIds"}
        args = resource_args(result, record, props, protect=bad.protect, provider=provider)
        clean = resource_args(result, record, protect=None)
        assert _run(policy, clean) == [], "the unbroken resource passes"
        messages = _run(policy, args)
    else:
        resources = stack_resources(result)
        _CURRENT_RESOURCES[:] = resources
        _CURRENT_SECRET[0] = next(
            str(r.outputs["value"]) for r in result.find(policies.T_SSM_PARAMETER)
        )
        assert _run(policy, stack_args(result, resources)) == []
        target = next(r for r in resources if r.urn == record.urn)
        bad.mutate(target)
        messages = _run(policy, stack_args(result, resources))
    assert messages, f"{bad.policy} did not report {record.name}"
    named = record.name if bad.reports is None else bad.reports
    assert any(named in m for m in messages), messages
    assert all("Fix:" in m for m in messages), messages
    for expected in bad.expect:
        assert any(expected in m for m in messages), (expected, messages)
    secrets = set(result.secret_values)
    assert not any(secret in m for m in messages for secret in secrets), "a message leaked a secret"


def test_every_policy_has_a_negative_case() -> None:
    """At least one deliberately bad resource per policy."""
    assert {bad.policy for bad in BAD} == {spec.name for spec in SPECS}


def test_prod_only_rules_follow_the_production_flag(build_stack: BuildStack) -> None:
    """C3: the dev database's settings pass in dev and fail once production is set."""
    result = build_stack("dev")
    record = result.one(RDS, "instance")
    policy = _spec("rds-instance")
    args = resource_args(result, record)
    assert _run(policy, args) == []
    prod_args = ResourceValidationArgs(
        args.resource_type, args.props, args.urn, args.name, args.opts, args.provider,
        {"production": True},
    )  # fmt: skip
    messages = _run(policy, prod_args)
    assert any("dbMultiAz" in m for m in messages)
    assert any("dbDeletionProtection" in m for m in messages)


def test_policies_note_lists_every_policy_with_its_invariants() -> None:
    """docs/policies.md names every policy with the ids it covers."""
    note = (REPO_ROOT / "docs" / "policies.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2]
        for line in note.splitlines()
        if line.startswith("| `")
    }
    for name, invariants in INVARIANTS_BY_POLICY.items():
        assert name in rows, f"docs/policies.md lacks {name}"
        assert set(rows[name].split()) == set(invariants), name


def test_policy_pack_entry_builds_the_pack_from_infra_policies() -> None:
    """policy/__main__.py builds the PolicyPack from infra.policies, importable from anywhere."""
    source = (REPO_ROOT / "policy" / "__main__.py").read_text()
    assert "PolicyPack(" in source
    assert "POLICIES" in source
    assert "Path(__file__).resolve().parent.parent" in source
    project = (REPO_ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    assert "python" in project
    assert Path(REPO_ROOT / "policy" / "__main__.py").exists()
