"""Guardrails as pulumi-policy validators, one per group of INVARIANTS.md lines.

Every policy here judges what ``pulumi preview`` would send to AWS from the
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
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PROJECT: Final = "fastapi-on-aws"
# docs/contracts.md: the container port and the liveness route.
CONTAINER_PORT: Final = 8000
LIVENESS_PATH: Final = "/health"
POSTGRES_PORT: Final = 5432
REDIS_PORT: Final = 6379
# AWS load balancer and target group names are at most 32 characters; the
# engine autonames ``<logical name>-<7 hex>``.
AWS_LB_NAME_LIMIT: Final = 32
AUTONAME_SUFFIX: Final = 8
API_GATEWAY_TIMEOUT_SECONDS: Final = 30
# Lambda's own maximum, allowed only for the migrate function (never behind the API).
LAMBDA_MAX_TIMEOUT_SECONDS: Final = 900
MIGRATE_FUNCTION_SUFFIX: Final = "-migrate-function"
PROD_MIN_BACKUP_DAYS: Final = 7
PROD_MIN_LOG_RETENTION_DAYS: Final = 365
# Characters RDS (``/ @ " space``) and ElastiCache AUTH (``/ @ "`` and space,
# printable ASCII only) refuse in passwords.
FORBIDDEN_PASSWORD_CHARS: Final = frozenset('/@" ')
REQUIRED_TAGS: Final = ("project", "stack", "compute")
COMPUTE_SHAPES: Final = ("fargate", "lambda")
ECS_EXECUTION_MANAGED_POLICY: Final = (
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
)
LAMBDA_VPC_MANAGED_POLICY: Final = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
)
ADMIN_POLICY_NAMES: Final = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
# ELB policies that negotiate TLS 1.2 or later only.
TLS12_POLICY: Final = re.compile(r"^ELBSecurityPolicy-(TLS13-|TLS-1-2-|FS-1-2-)")
SECRET_NAME: Final = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL")
SSM_PARAMETER_ARN: Final = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/.+")
POSTGRES_MAJOR_VERSIONS: Final = ("13", "14", "15", "16", "17")
DB_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")

T_TARGET_GROUP: Final = "aws:lb/targetGroup:TargetGroup"
T_LOAD_BALANCER: Final = "aws:lb/loadBalancer:LoadBalancer"
T_LISTENER: Final = "aws:lb/listener:Listener"
T_TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"
T_ECS_SERVICE: Final = "aws:ecs/service:Service"
T_ECS_CLUSTER: Final = "aws:ecs/cluster:Cluster"
T_SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
T_INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
T_EGRESS_RULE: Final = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
T_SG_RULE: Final = "aws:ec2/securityGroupRule:SecurityGroupRule"
T_SUBNET: Final = "aws:ec2/subnet:Subnet"
T_ROUTE: Final = "aws:ec2/route:Route"
T_ROUTE_TABLE: Final = "aws:ec2/routeTable:RouteTable"
T_RT_ASSOCIATION: Final = "aws:ec2/routeTableAssociation:RouteTableAssociation"
T_INTERNET_GATEWAY: Final = "aws:ec2/internetGateway:InternetGateway"
T_NAT_GATEWAY: Final = "aws:ec2/natGateway:NatGateway"
T_VPC_ENDPOINT: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
T_ECR_REPOSITORY: Final = "aws:ecr/repository:Repository"
T_ECR_LIFECYCLE: Final = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
T_SSM_PARAMETER: Final = "aws:ssm/parameter:Parameter"
T_RDS_INSTANCE: Final = "aws:rds/instance:Instance"
T_RDS_PARAMETER_GROUP: Final = "aws:rds/parameterGroup:ParameterGroup"
T_RDS_SUBNET_GROUP: Final = "aws:rds/subnetGroup:SubnetGroup"
T_RDS_PROXY: Final = "aws:rds/proxy:Proxy"
T_REDIS: Final = "aws:elasticache/replicationGroup:ReplicationGroup"
T_CACHE_SUBNET_GROUP: Final = "aws:elasticache/subnetGroup:SubnetGroup"
T_RANDOM_PASSWORD: Final = "random:index/randomPassword:RandomPassword"  # noqa: S105
T_LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
T_LAMBDA: Final = "aws:lambda/function:Function"
T_LAMBDA_PERMISSION: Final = "aws:lambda/permission:Permission"
T_API: Final = "aws:apigatewayv2/api:Api"
T_API_INTEGRATION: Final = "aws:apigatewayv2/integration:Integration"
T_API_STAGE: Final = "aws:apigatewayv2/stage:Stage"
T_ROLE: Final = "aws:iam/role:Role"
T_ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
T_POLICY: Final = "aws:iam/policy:Policy"
T_ROLE_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
T_KMS_KEY: Final = "aws:kms/key:Key"
T_DOCKER_IMAGE: Final = "docker:index/image:Image"
T_S3_BUCKET: Final = "aws:s3/bucket:Bucket"
T_S3_POLICY: Final = "aws:s3/bucketPolicy:BucketPolicy"
T_S3_PUBLIC_ACCESS: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
T_S3_ENCRYPTION: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
T_S3_LIFECYCLE: Final = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
T_S3_OWNERSHIP: Final = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
T_SECRET: Final = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a type token)
T_SECRET_VERSION: Final = "aws:secretsmanager/secretVersion:SecretVersion"  # noqa: S105
T_SECRET_ROTATION: Final = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105
RDS_MONITORING_PRINCIPAL: Final = "monitoring.rds.amazonaws.com"
RDS_MONITORING_MANAGED_POLICY: Final = (
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
)
# Performance Insights' free tier (and the shortest retention RDS offers).
PROD_MIN_PERFORMANCE_INSIGHTS_DAYS: Final = 7
# The slowest statement a prod database may leave unlogged (ms).
PROD_MAX_LOG_MIN_DURATION_MS: Final = 1000
LOGGED_STATEMENT_CLASSES: Final = ("ddl", "mod", "all")
PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)

# ------------------------------------------------------------------ helpers


def _label(name: str, resource_type: str) -> str:
    return f"{name} ({resource_type})"


def _number(value: object) -> float | None:
    """Numbers arrive as floats (the engine's wire format) or, from config, as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _json(value: object) -> Any:
    """A JSON document property (policies, container definitions) as Python data."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    # The engine hands policies read-only Sequence/Mapping proxies, not lists.
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]


def _truthy_config(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def is_production(config: Mapping[str, Any]) -> bool:
    """Whether prod-only rules apply: the policy config's ``production``, else the stack's."""
    if "production" in config:
        return _truthy_config(config["production"])
    value = pulumi.Config(PROJECT).get("production")
    return _truthy_config(value) if value is not None else False


def _statements(document: object) -> list[Mapping[str, Any]]:
    parsed = _json(document)
    if not isinstance(parsed, Mapping):
        return []
    return [item for item in _as_list(parsed.get("Statement")) if isinstance(item, Mapping)]


def _autonamed(value: object, logical_name: str) -> bool:
    """Whether ``value`` is the engine's autoname ``<logical name>-<7 hex>``."""
    return (
        isinstance(value, str)
        and re.fullmatch(re.escape(logical_name) + r"-[0-9a-f]{7}", value) is not None
    )


# A resource policy's body: (props, name, type, args, report).
ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]


def _on(
    *types: str,
) -> Callable[
    [Callable[[Mapping[str, Any], str, Callable[[str, str], None], ResourceValidationArgs], None]],
    ResourceCheck,
]:
    """Run a check only on the given resource types, with a ``fail(problem, fix)`` helper."""

    def wrap(
        check: Callable[
            [Mapping[str, Any], str, Callable[[str, str], None], ResourceValidationArgs], None
        ],
    ) -> ResourceCheck:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if types and args.resource_type not in types:
                return
            label = _label(args.name, args.resource_type)

            def fail(problem: str, fix: str) -> None:
                report(f"{label}: {problem}. Fix: {fix}.", None)

            check(args.props, args.name, fail, args)

        return validate

    return wrap


class StackView:
    """Index over a stack's resources, following references through dependencies."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = list(resources)

    def of_type(self, *types: str) -> list[PolicyResource]:
        """Resources of any of ``types``."""
        return [resource for resource in self.resources if resource.resource_type in types]

    def refs(self, resource: PolicyResource, key: str, *types: str) -> list[PolicyResource]:
        """The resources property ``key`` of ``resource`` refers to (optionally of ``types``).

        The engine records which resources each input came from; when it did not
        (older state), fall back to matching the property's values against
        other resources' ids, ARNs and names.
        """
        found = list(resource.property_dependencies.get(key) or [])
        if not found:
            values = set(_strings(resource.props.get(key)))
            if values:
                found = [
                    other
                    for other in self.resources
                    if other is not resource
                    and any(other.props.get(attr) in values for attr in ("id", "arn", "name"))
                ]
        return [item for item in found if not types or item.resource_type in types]

    def referring(self, target: PolicyResource, key: str, *types: str) -> list[PolicyResource]:
        """Resources of ``types`` whose property ``key`` refers to ``target``."""
        return [
            resource
            for resource in self.of_type(*types)
            if any(ref is target or ref.urn == target.urn for ref in self.refs(resource, key))
        ]

    def public_subnets(self) -> set[str]:
        """URNs of subnets whose route table sends traffic to an internet gateway."""
        public_tables: set[str] = set()
        for route in self.of_type(T_ROUTE):
            if self.refs(route, "gatewayId", T_INTERNET_GATEWAY) or str(
                route.props.get("gatewayId") or ""
            ).startswith("igw-"):
                public_tables.update(table.urn for table in self.refs(route, "routeTableId"))
        subnets: set[str] = set()
        for association in self.of_type(T_RT_ASSOCIATION):
            if any(table.urn in public_tables for table in self.refs(association, "routeTableId")):
                subnets.update(
                    subnet.urn for subnet in self.refs(association, "subnetId", T_SUBNET)
                )
        return subnets


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)


def _stack_check(
    check: Callable[
        [StackView, Callable[[PolicyResource | None, str, str], None], StackValidationArgs], None
    ],
) -> StackCheck:
    """Give a stack check a ``StackView`` and a ``fail(resource, problem, fix)`` helper."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        def fail(resource: PolicyResource | None, problem: str, fix: str) -> None:
            if resource is None:
                report(f"stack: {problem}. Fix: {fix}.", None)
            else:
                label = _label(resource.name, resource.resource_type)
                report(f"{label}: {problem}. Fix: {fix}.", resource.urn)

        check(StackView(args.resources), fail, args)

    return validate


Fail = Callable[[str, str], None]
StackFail = Callable[[PolicyResource | None, str, str], None]

# ----------------------------------------------------------- A: correctness


@_on(T_TARGET_GROUP)
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
    if _number(props.get("port")) != CONTAINER_PORT:
        fail(f"port is {props.get('port')!r}", f"set port={CONTAINER_PORT} (the container port)")
    check = props.get("healthCheck") or {}
    if check.get("path") != LIVENESS_PATH:
        fail(
            f"health check path is {check.get('path')!r}",
            f'set health_check.path="{LIVENESS_PATH}" (liveness, no dependency calls)',
        )
    if str(check.get("matcher")) != "200":
        fail(f"health check matcher is {check.get('matcher')!r}", 'set health_check.matcher="200"')
    delay = _number(props.get("deregistrationDelay"))
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


def _secret_like(name: str) -> bool:
    return bool(SECRET_NAME.search(name.upper())) and not name.upper().endswith("_SSM_PARAMETER")


@_on(T_TASK_DEFINITION)
def _task_definition(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A5, A6 (separate task role), A10 (runtime platform set), B6, B7, B10 (rediss://)."""
    definitions = _json(props.get("containerDefinitions"))
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
        for volume in _as_list(props.get("volumes"))
        if isinstance(volume, Mapping)
    }
    for container in definitions:
        if not isinstance(container, Mapping):
            continue
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
            for mount in _as_list(container.get("mountPoints"))
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
        for variable in _as_list(container.get("environment")):
            name = str(variable.get("name", "")) if isinstance(variable, Mapping) else ""
            if _secret_like(name):
                fail(
                    f"{who} has the secret {name} in its plain environment",
                    "pass it through secrets[].valueFrom (an SSM parameter ARN)",
                )
            if name == "REDIS_URL" and not str(variable.get("value", "")).startswith("rediss://"):
                fail(
                    f"{who} reaches Redis without TLS (REDIS_URL is not rediss://)",
                    "build REDIS_URL as rediss://<primary endpoint>:6379/0",
                )
        for secret in _as_list(container.get("secrets")):
            value_from = str(secret.get("valueFrom", "")) if isinstance(secret, Mapping) else ""
            if not SSM_PARAMETER_ARN.match(value_from):
                fail(
                    f"{who} takes secret {secret.get('name')!r} from {value_from!r}",
                    "use the SSM parameter's full ARN in valueFrom",
                )


@_on(T_ECS_SERVICE)
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
    if props.get("loadBalancers") and not _number(props.get("healthCheckGracePeriodSeconds")):
        fail(
            "no health check grace period behind a load balancer",
            "set health_check_grace_period_seconds (healthCheckGraceSeconds)",
        )


@_on(T_LOAD_BALANCER, T_TARGET_GROUP)
def _lb_name_length(
    props: Mapping[str, Any], name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A14: autonamed physical names must fit AWS's 32 characters."""
    physical = props.get("name")
    length = (
        len(physical) if isinstance(physical, str) and physical else len(name) + AUTONAME_SUFFIX
    )
    if length > AWS_LB_NAME_LIMIT:
        fail(
            f"its physical name would be {length} characters (AWS allows {AWS_LB_NAME_LIMIT})",
            f"shorten the logical name to at most {AWS_LB_NAME_LIMIT - AUTONAME_SUFFIX} characters",
        )


@_on(T_LAMBDA)
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
    commands = _as_list((props.get("imageConfig") or {}).get("commands"))
    if commands != ["lambda_handler.handler"]:
        fail(
            f"image command is {commands!r}", 'set image_config.commands=["lambda_handler.handler"]'
        )
    timeout = _number(props.get("timeout"))
    if _name.endswith(MIGRATE_FUNCTION_SUFFIX):
        # Never behind the API (the _api_invokes_serving_function stack check):
        # it may wait for the database up to Lambda's own maximum, one at a time.
        if timeout is None or timeout > LAMBDA_MAX_TIMEOUT_SECONDS:
            fail(
                f"timeout is {props.get('timeout')!r} s",
                f"set the migrate function's timeout to at most {LAMBDA_MAX_TIMEOUT_SECONDS} s",
            )
        if _number(props.get("reservedConcurrentExecutions")) != 1:
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
    if not _as_list(props.get("architectures")):
        fail("architectures is not set", "set architectures=[cpuArchitecture] to match the image")
    variables = (props.get("environment") or {}).get("variables") or {}
    for key, value in variables.items():
        if _secret_like(str(key)):
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


@_on(T_API_INTEGRATION, T_API_STAGE, T_LAMBDA_PERMISSION)
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
            _number(routes.get("throttlingRateLimit"))
            and _number(routes.get("throttlingBurstLimit"))
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


@_on(T_RDS_PROXY)
def _rds_proxy(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A13 (authentication and TLS; the subnets are a stack check)."""
    if props.get("requireTls") is not True:
        fail("TLS is not required", "set require_tls=True")
    auths = [auth for auth in _as_list(props.get("auths")) if isinstance(auth, Mapping)]
    good = [
        auth
        for auth in auths
        if (auth.get("authScheme") == "SECRETS" and auth.get("secretArn"))
        or auth.get("iamAuth") == "REQUIRED"
    ]
    if not auths or len(good) != len(auths):
        fail(
            "an auth entry has neither a Secrets Manager secret nor required IAM auth",
            'use auth_scheme="SECRETS" with secret_arn, or iam_auth="REQUIRED"',
        )


# ---------------------------------------------------------------- B: security


@_on(T_SECURITY_GROUP, T_INGRESS_RULE, T_EGRESS_RULE, T_SG_RULE)
def _sg_descriptions(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B3: descriptions everywhere, and no inline rules (this project uses rule resources)."""
    description = str(props.get("description") or "")
    if not description or description == "Managed by Pulumi":
        fail("no description", "say what the group or rule admits and why")
    if args.resource_type == T_SECURITY_GROUP:
        for direction in ("ingress", "egress"):
            if _as_list(props.get(direction)):
                fail(
                    f"inline {direction} rules",
                    "use separate aws.vpc.SecurityGroupIngressRule/EgressRule resources "
                    "(inline and separate rules must never be mixed)",
                )


@_on(T_SUBNET)
def _subnet(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """B4: no subnet hands out public IPs (the ALB does not need it)."""
    if props.get("mapPublicIpOnLaunch"):
        fail("maps public IPs on launch", "set map_public_ip_on_launch=False")


@_on(T_ECR_REPOSITORY)
def _ecr(props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs) -> None:
    """B5 (the lifecycle policy is a stack check)."""
    if not (props.get("imageScanningConfiguration") or {}).get("scanOnPush"):
        fail("images are not scanned on push", "set image_scanning_configuration.scan_on_push=True")
    if props.get("imageTagMutability") != "IMMUTABLE":
        fail("tags are mutable", 'set image_tag_mutability="IMMUTABLE"')


@_on(T_SSM_PARAMETER)
def _ssm(props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs) -> None:
    """B8."""
    if props.get("type") != "SecureString":
        fail(f"type is {props.get('type')!r}", 'set type="SecureString"')


def _password_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    bad = sorted(set(value) & FORBIDDEN_PASSWORD_CHARS)
    if bad or any(not 32 < ord(char) < 127 for char in value):
        return 'contains characters AWS refuses (/ @ " space or non-printable)'
    return None


@_on(T_RDS_INSTANCE)
def _rds(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """A8 (password), A9, B9 and C3."""
    if props.get("engine") != "postgres":
        fail(f"engine is {props.get('engine')!r}", 'set engine="postgres"')
    version = str(props.get("engineVersion") or "")
    if version.split(".")[0] not in POSTGRES_MAJOR_VERSIONS:
        fail(
            f"engine version {version!r} is not a supported PostgreSQL major",
            "use one of " + ", ".join(POSTGRES_MAJOR_VERSIONS),
        )
    if not DB_NAME.fullmatch(str(props.get("dbName") or "")):
        fail(
            f"db_name {props.get('dbName')!r} is not alphanumeric starting with a letter",
            'use "app"',
        )
    if not props.get("skipFinalSnapshot") and not props.get("finalSnapshotIdentifier"):
        fail("a final snapshot is required but has no identifier", "set final_snapshot_identifier")
    problem = _password_problem(props.get("password"))
    if problem:
        fail(
            f"the master password {problem}",
            "generate it with override_special limited to characters RDS accepts",
        )
    if props.get("publiclyAccessible"):
        fail("publicly accessible", "set publicly_accessible=False")
    if props.get("storageEncrypted") is not True:
        fail("storage is not encrypted", "set storage_encrypted=True")
    if props.get("autoMinorVersionUpgrade") is False:
        fail("auto minor version upgrades are off", "set auto_minor_version_upgrade=True")
    backups = _number(props.get("backupRetentionPeriod")) or 0
    production = is_production(args.get_config())
    minimum = PROD_MIN_BACKUP_DAYS if production else 1
    if backups < minimum:
        fail(
            f"backup retention is {backups:g} days",
            f"keep backups at least {minimum} days (dbBackupRetentionDays)",
        )
    if production:
        if props.get("deletionProtection") is not True:
            fail("prod database without deletion protection", "set dbDeletionProtection: true")
        if props.get("skipFinalSnapshot"):
            fail("prod database skips its final snapshot", "set dbSkipFinalSnapshot: false")
        if props.get("multiAz") is not True:
            fail("prod database is single-AZ", "set dbMultiAz: true")
        if not args.opts.protect:
            fail("prod database is not protected by Pulumi", "set protectData: true (protect=True)")


@_on(T_RDS_PARAMETER_GROUP)
def _rds_parameters(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """B9: a PostgreSQL parameter group forces TLS."""
    if not str(props.get("family") or "").startswith("postgres"):
        return
    values = {
        str(item.get("name")): str(item.get("value"))
        for item in _as_list(props.get("parameters"))
        if isinstance(item, Mapping)
    }
    if values.get("rds.force_ssl") != "1":
        fail("rds.force_ssl is not 1", 'add the parameter rds.force_ssl = "1"')


@_on(T_REDIS)
def _redis(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """A8 (AUTH token), B10 and C4."""
    if props.get("atRestEncryptionEnabled") is not True:
        fail("not encrypted at rest", "set at_rest_encryption_enabled=True")
    if props.get("transitEncryptionEnabled") is not True:
        fail("not encrypted in transit (AUTH requires it)", "set transit_encryption_enabled=True")
    token = props.get("authToken")
    if not token:
        fail("no AUTH token", "set auth_token from the generated Redis password")
    elif isinstance(token, str):
        if not 16 <= len(token) <= 128:
            fail(f"the AUTH token is {len(token)} characters", "generate 16 to 128 characters")
        problem = _password_problem(token)
        if problem:
            fail(
                f"the AUTH token {problem}",
                "limit override_special to characters ElastiCache accepts",
            )
    if not props.get("subnetGroupName"):
        fail(
            "no subnet group (the default VPC's would be used)",
            "set subnet_group_name to the cache's own subnet group",
        )
    if is_production(args.get_config()):
        if props.get("automaticFailoverEnabled") is not True:
            fail(
                "prod cache without automatic failover",
                "set automatic_failover_enabled=True (cacheNodeCount >= 2)",
            )
        if props.get("multiAzEnabled") is not True:
            fail("prod cache is single-AZ", "set multi_az_enabled=True")
        if (_number(props.get("numCacheClusters")) or 0) < 2:
            fail("prod cache has fewer than 2 nodes", "set cacheNodeCount: 2 or more")
        if (_number(props.get("snapshotRetentionLimit")) or 0) < 1:
            fail("prod cache keeps no snapshots", "set cacheSnapshotRetentionDays: 1 or more")
        if not args.opts.protect:
            fail("prod cache is not protected by Pulumi", "set protectData: true (protect=True)")


@_on(T_RANDOM_PASSWORD)
def _random_password(
    props: Mapping[str, Any], _name: str, fail: Fail, _args: ResourceValidationArgs
) -> None:
    """A8: generated passwords draw only from characters RDS and ElastiCache accept."""
    if props.get("special") is False:
        return
    specials = props.get("overrideSpecial")
    if not isinstance(specials, str) or not specials:
        fail(
            'uses the default special characters, which include / @ " and space',
            'set override_special to a safe set such as "-_.~"',
        )
    elif set(specials) & FORBIDDEN_PASSWORD_CHARS:
        fail('override_special contains / @ " or space', "remove them from override_special")


@_on(T_LOG_GROUP)
def _log_group(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B13."""
    days = _number(props.get("retentionInDays")) or 0
    if days <= 0:
        fail("logs are kept forever (no retention)", "set retention_in_days from logRetentionDays")
    elif is_production(args.get_config()) and days < PROD_MIN_LOG_RETENTION_DAYS:
        fail(
            f"prod logs are kept {days:g} days",
            f"set logRetentionDays: {PROD_MIN_LOG_RETENTION_DAYS} or more",
        )


@_on(T_ECS_CLUSTER)
def _cluster(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B15 (P)."""
    if not is_production(args.get_config()):
        return
    settings = {
        str(item.get("name")): str(item.get("value"))
        for item in _as_list(props.get("settings"))
        if isinstance(item, Mapping)
    }
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        fail("prod cluster without Container Insights", "set containerInsights: true")


@_on(T_LOAD_BALANCER, T_LISTENER)
def _alb(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """B12 (the HTTP-redirect half is a stack check)."""
    if args.resource_type == T_LOAD_BALANCER:
        if props.get("dropInvalidHeaderFields") is not True:
            fail("invalid header fields are forwarded", "set drop_invalid_header_fields=True")
        if props.get("desyncMitigationMode") == "monitor":
            fail('desync mitigation is "monitor"', 'use "defensive" or "strictest"')
    elif props.get("protocol") == "HTTPS" and not TLS12_POLICY.match(
        str(props.get("sslPolicy") or "")
    ):
        fail(
            f"SSL policy {props.get('sslPolicy')!r} allows TLS below 1.2",
            'set ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06"',
        )


def _principals(principal: object) -> Iterator[tuple[str, str]]:
    if principal == "*":
        yield ("AWS", "*")
    elif isinstance(principal, Mapping):
        for kind, values in principal.items():
            for value in _as_list(values):
                yield (str(kind), str(value))


def _admin_policy(arn: object) -> bool:
    return (
        isinstance(arn, str)
        and arn.startswith("arn:aws:iam::aws:policy/")
        and arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES
    )


@_on(T_ROLE, T_ROLE_POLICY, T_POLICY, T_ROLE_ATTACHMENT)
def _iam(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    """B11: no wildcard actions or admin policies; exact trust principals; scoped GitHub OIDC."""
    if args.resource_type == T_ROLE:
        for statement in _statements(props.get("assumeRolePolicy")):
            for kind, value in _principals(statement.get("Principal")):
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
                    values = [item for found in subjects for item in _as_list(json.loads(found))]
                    if not values or any(
                        not str(item).startswith("repo:") or str(item).startswith("repo:*")
                        for item in values
                    ):
                        fail(
                            "GitHub OIDC trust is not scoped to one repository",
                            "add a condition on token.actions.githubusercontent.com:sub = "
                            '"repo:<owner>/<repo>:..."',
                        )
        for arn in _as_list(props.get("managedPolicyArns")):
            if _admin_policy(arn):
                fail(f"attaches {arn}", "grant only the actions the role needs")
    elif args.resource_type == T_ROLE_ATTACHMENT:
        if _admin_policy(props.get("policyArn")):
            fail(f"attaches {props.get('policyArn')}", "grant only the actions the role needs")
    else:
        for statement in _statements(props.get("policy")):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            for action in _as_list(statement.get("Action")):
                if action == "*" or str(action).endswith(":*"):
                    fail(f"allows the wildcard action {action!r}", "list the exact actions")
            if statement.get("NotAction"):
                fail("uses NotAction with Allow", "list the exact actions")


@cache
def _taggable(resource_type: str) -> bool:
    """Whether the pulumi_aws class for ``resource_type`` takes ``tags`` (as tags.py assumes)."""
    try:
        _, module, kind = resource_type.split(":")
        package = module.split("/")[0]
        package = {"lambda": "lambda_"}.get(package, package)
        cls = getattr(importlib.import_module(f"pulumi_aws.{package}"), kind)
        return "tags" in inspect.signature(cls._internal_init).parameters
    except (ValueError, ImportError, AttributeError):
        return False


def _resource_tags(args: ResourceValidationArgs, fail: Fail, props: Mapping[str, Any]) -> None:
    """C7."""
    if not args.resource_type.startswith("aws:") or not _taggable(args.resource_type):
        return
    tags = props.get("tags") or {}
    missing = [key for key in REQUIRED_TAGS if not (isinstance(tags, Mapping) and tags.get(key))]
    if missing:
        fail(
            f"missing the tags {', '.join(missing)}",
            "build it after register_stack_tags (infra/tags.py) so the stack "
            "transformation tags it",
        )
        return
    if tags.get("project") != PROJECT:
        fail(f"tag project is {tags.get('project')!r}", f'tag project="{PROJECT}"')
    if tags.get("compute") not in COMPUTE_SHAPES:
        fail(f"tag compute is {tags.get('compute')!r}", "tag compute with fargate or lambda")


@_on()
def _tags(props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs) -> None:
    _resource_tags(args, fail, props)


# Input that holds a resource's explicit physical name, per type (default "name").
_PHYSICAL_NAME_KEYS: Final = {
    T_RDS_INSTANCE: "identifier",
    T_REDIS: "replicationGroupId",
    T_S3_BUCKET: "bucket",
}
# Names AWS mandates and scopes to a parent: the HTTP API's ``$default`` stage
# (A12) is replaced only with its API, so the new one never meets the old one.
_SCOPED_FIXED_NAMES: Final[Mapping[str, tuple[str, ...]]] = {T_API_STAGE: ("$default",)}


@_on()
def _explicit_names(
    props: Mapping[str, Any], name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """C2: a fixed physical name makes create-before-delete replacement collide."""
    if not args.resource_type.startswith("aws:"):
        return
    key = _PHYSICAL_NAME_KEYS.get(args.resource_type, "name")
    value = props.get(key)
    if not isinstance(value, str) or not value or _autonamed(value, name):
        return
    if value in _SCOPED_FIXED_NAMES.get(args.resource_type, ()):
        return
    if not args.opts.delete_before_replace:
        fail(
            f"has the explicit physical name {value!r} without delete_before_replace",
            "drop the explicit name (let Pulumi autoname it) or set delete_before_replace=True",
        )


@_on()
def _allowed_accounts(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """C5 (P): the AWS provider refuses any account but the configured ones."""
    if not args.resource_type.startswith("aws:") or not is_production(args.get_config()):
        return
    provider = args.provider
    if provider is None:
        return
    accounts = _json(provider.props.get("allowedAccountIds"))
    if not _as_list(accounts):
        fail(
            f"its AWS provider {provider.name!r} has no allowedAccountIds",
            "set aws:allowedAccountIds in Pulumi.prod.yaml",
        )
    del props


# ------------------------------------------------------------- stack checks


@_stack_check
def _multi_az(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A1: ALB, RDS subnet group and ElastiCache subnet group span 2+ AZs."""
    for resource, key in (
        *((lb, "subnets") for lb in view.of_type(T_LOAD_BALANCER)),
        *((group, "subnetIds") for group in view.of_type(T_RDS_SUBNET_GROUP, T_CACHE_SUBNET_GROUP)),
    ):
        zones = {
            subnet.props.get("availabilityZone") for subnet in view.refs(resource, key, T_SUBNET)
        }
        if len(zones - {None}) < 2:
            fail(
                resource,
                f"spans {len(zones - {None})} availability zone(s)",
                "give it subnets in at least 2 AZs (azCount >= 2)",
            )


@_stack_check
def _proxy_multi_az(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A13: the RDS Proxy spans the private subnets of at least 2 AZs (RDS requires it)."""
    public = view.public_subnets()
    for proxy in view.of_type(T_RDS_PROXY):
        private_zones = {
            subnet.props.get("availabilityZone")
            for subnet in view.refs(proxy, "vpcSubnetIds", T_SUBNET)
            if subnet.urn not in public
        } - {None}
        if len(private_zones) < 2:
            fail(
                proxy,
                f"spans the private subnets of {len(private_zones)} availability zone(s)",
                "give it the network's private subnets in at least 2 AZs",
            )


# Which service principal a role must trust, by the property that hands it to AWS.
ROLE_USERS: Final[Mapping[tuple[str, str], str]] = {
    (T_TASK_DEFINITION, "executionRoleArn"): "ecs-tasks.amazonaws.com",
    (T_TASK_DEFINITION, "taskRoleArn"): "ecs-tasks.amazonaws.com",
    (T_LAMBDA, "role"): "lambda.amazonaws.com",
    (T_RDS_PROXY, "roleArn"): "rds.amazonaws.com",
    (T_RDS_INSTANCE, "monitoringRoleArn"): RDS_MONITORING_PRINCIPAL,
    ("aws:ec2/flowLog:FlowLog", "iamRoleArn"): "vpc-flow-logs.amazonaws.com",
}


@_stack_check
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
            for statement in _statements(role.props.get("assumeRolePolicy"))
            if statement.get("Effect", "Allow") == "Allow"
            for kind, value in _principals(statement.get("Principal"))
        }
        wanted = {("Service", principal) for principal in expected}
        if trusted != wanted:
            shown = ", ".join(sorted(f"{kind}:{value}" for kind, value in trusted)) or "nothing"
            fail(
                role,
                f"trusts {shown}, but only {', '.join(sorted(expected))} assumes it",
                f"trust exactly {', '.join(sorted(expected))} in its assume-role policy",
            )


@_stack_check
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


def _role_documents(
    view: StackView, role: PolicyResource
) -> tuple[list[Mapping[str, Any]], set[str]]:
    """Statements of a role's inline policies and the ARNs of its managed attachments."""
    statements: list[Mapping[str, Any]] = []
    for policy in view.referring(role, "role", T_ROLE_POLICY):
        statements += _statements(policy.props.get("policy"))
    statements += [
        statement
        for inline in _as_list(role.props.get("inlinePolicies"))
        if isinstance(inline, Mapping)
        for statement in _statements(inline.get("policy"))
    ]
    attached = {
        str(item.props.get("policyArn")) for item in view.referring(role, "role", T_ROLE_ATTACHMENT)
    }
    attached |= {str(arn) for arn in _as_list(role.props.get("managedPolicyArns"))}
    return statements, attached


@_stack_check
def _runtime_role_scope(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A6: the execution role pulls, logs and reads exactly the app's parameters."""
    parameters = {str(parameter.props.get("arn")) for parameter in view.of_type(T_SSM_PARAMETER)}
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
        statements, attached = _role_documents(view, role)
        actions = {
            str(action) for statement in statements for action in _as_list(statement.get("Action"))
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
            statement_actions = {str(action) for action in _as_list(statement.get("Action"))}
            if "ssm:GetParameters" in statement_actions:
                granted |= {str(arn) for arn in _as_list(statement.get("Resource"))}
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


@_stack_check
def _single_architecture(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A10: image build platform, ECS runtime platform and Lambda architectures agree."""
    found: list[tuple[PolicyResource, str]] = []
    for image in view.of_type(T_DOCKER_IMAGE):
        platform = str((image.props.get("build") or {}).get("platform") or "")
        found.append(
            (
                image,
                {"linux/amd64": "x86_64", "linux/arm64": "arm64"}.get(
                    platform, platform or "unset"
                ),
            )
        )
    for task in view.of_type(T_TASK_DEFINITION):
        arch = str((task.props.get("runtimePlatform") or {}).get("cpuArchitecture") or "unset")
        found.append((task, arch.lower()))
    for function in view.of_type(T_LAMBDA):
        for arch in _as_list(function.props.get("architectures")) or ["x86_64"]:
            found.append((function, str(arch).lower()))
    architectures = {arch for _, arch in found}
    if len(architectures) > 1:
        for resource, arch in found:
            fail(
                resource,
                f"is built for {arch} while the stack mixes {', '.join(sorted(architectures))}",
                "derive every architecture from the one cpuArchitecture key",
            )


def _ingress_rules(
    view: StackView,
) -> Iterator[tuple[PolicyResource, PolicyResource | None, Mapping[str, Any]]]:
    """(rule resource, target security group, rule props) for every ingress rule."""
    for rule in view.of_type(T_INGRESS_RULE):
        groups = view.refs(rule, "securityGroupId", T_SECURITY_GROUP)
        yield rule, groups[0] if groups else None, rule.props
    for rule in view.of_type(T_SG_RULE):
        if rule.props.get("type") == "ingress":
            groups = view.refs(rule, "securityGroupId", T_SECURITY_GROUP)
            yield rule, groups[0] if groups else None, rule.props
    for group in view.of_type(T_SECURITY_GROUP):
        for inline in _as_list(group.props.get("ingress")):
            if isinstance(inline, Mapping):
                yield group, group, inline


def _world_open(rule: Mapping[str, Any]) -> bool:
    cidrs = set(
        _strings(
            [rule.get(key) for key in ("cidrIpv4", "cidrIpv6", "cidrBlocks", "ipv6CidrBlocks")]
        )
    )
    return bool(cidrs & {"0.0.0.0/0", "::/0"})


@_stack_check
def _world_ingress(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B1: only an internet-facing ALB is open to the world, on 80/443."""
    alb_groups = {
        group.urn
        for lb in view.of_type(T_LOAD_BALANCER)
        if not lb.props.get("internal")
        for group in view.refs(lb, "securityGroups", T_SECURITY_GROUP)
    }
    for rule, group, props in _ingress_rules(view):
        if not _world_open(props):
            continue
        ports = (_number(props.get("fromPort")), _number(props.get("toPort")))
        if group is None or group.urn not in alb_groups or ports not in ((80, 80), (443, 443)):
            fail(
                rule,
                "admits the whole internet",
                "admit 0.0.0.0/0 only to the ALB's group on 80 or 443; "
                "everything else from security groups",
            )


@_stack_check
def _sg_to_sg(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B2: task, function, RDS, Redis and Proxy groups admit only other groups on their port."""
    ports: dict[str, tuple[PolicyResource, float | None]] = {}

    def own(
        resources: Iterable[PolicyResource],
        key: str,
        port: Callable[[PolicyResource], float | None],
    ) -> None:
        for resource in resources:
            for group in view.refs(resource, key, T_SECURITY_GROUP):
                ports[group.urn] = (resource, port(resource))

    own(
        view.of_type(T_ECS_SERVICE),
        "networkConfiguration",
        lambda s: next(
            (
                _number(lb.get("containerPort"))
                for lb in _as_list(s.props.get("loadBalancers"))
                if isinstance(lb, Mapping)
            ),
            CONTAINER_PORT,
        ),
    )
    own(view.of_type(T_LAMBDA), "vpcConfig", lambda _f: None)
    own(
        view.of_type(T_RDS_INSTANCE),
        "vpcSecurityGroupIds",
        lambda db: _number(db.props.get("port")) or POSTGRES_PORT,
    )
    own(
        view.of_type(T_REDIS),
        "securityGroupIds",
        lambda redis: _number(redis.props.get("port")) or REDIS_PORT,
    )
    own(view.of_type(T_RDS_PROXY), "vpcSecurityGroupIds", lambda _p: POSTGRES_PORT)
    for rule, group, props in _ingress_rules(view):
        if group is None or group.urn not in ports:
            continue
        owner, port = ports[group.urn]
        from_sg = (
            props.get("referencedSecurityGroupId")
            or props.get("sourceSecurityGroupId")
            or props.get("securityGroups")
        )
        if (
            not from_sg
            or _world_open(props)
            or props.get("cidrIpv4")
            or props.get("cidrBlocks")
            or props.get("prefixListId")
        ):
            fail(
                rule,
                f"admits addresses, not a security group, into {owner.name}",
                "admit only the calling component's security group (referenced_security_group_id)",
            )
        if port is None:
            fail(
                rule,
                f"admits traffic into {owner.name}, which serves no inbound port",
                "remove the rule",
            )
        elif (_number(props.get("fromPort")), _number(props.get("toPort"))) != (port, port):
            fail(
                rule,
                f"opens ports {props.get('fromPort')}-{props.get('toPort')} on {owner.name}",
                f"open only port {port:g}",
            )


@_stack_check
def _ecr_lifecycle(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B5: every repository has a lifecycle policy."""
    for repository in view.of_type(T_ECR_REPOSITORY):
        if not view.referring(repository, "repository", T_ECR_LIFECYCLE):
            fail(
                repository,
                "has no lifecycle policy",
                "add an aws.ecr.LifecyclePolicy expiring untagged and old images",
            )


@_stack_check
def _no_plaintext_secrets(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B7: no secret value in a function environment or container definition."""
    secrets = {
        str(value)
        for resource in view.of_type(T_SSM_PARAMETER, T_RANDOM_PASSWORD)
        for value in (resource.props.get("value"), resource.props.get("result"))
        if isinstance(value, str) and len(value) >= 8
    }
    carriers = [
        (function, (function.props.get("environment") or {}).get("variables"))
        for function in view.of_type(T_LAMBDA)
    ] + [
        (task, _json(task.props.get("containerDefinitions")))
        for task in view.of_type(T_TASK_DEFINITION)
    ]
    for resource, document in carriers:
        if any(secret in text for text in _strings(document) for secret in secrets):
            fail(
                resource,
                "carries a secret value in plain text",
                "pass SSM parameter names (Lambda) or secrets[].valueFrom ARNs (ECS), never values",
            )


@_stack_check
def _rds_tls(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B9: the instance uses a parameter group of this stack that forces TLS."""
    for instance in view.of_type(T_RDS_INSTANCE):
        groups = view.refs(instance, "parameterGroupName", T_RDS_PARAMETER_GROUP)
        forced = [
            group
            for group in groups
            if any(
                isinstance(item, Mapping)
                and item.get("name") == "rds.force_ssl"
                and str(item.get("value")) == "1"
                for item in _as_list(group.props.get("parameters"))
            )
        ]
        if not forced:
            fail(
                instance,
                "does not use a parameter group forcing TLS",
                "set parameter_group_name to this stack's group with rds.force_ssl=1",
            )


@_stack_check
def _redis_subnet_group(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B10: Redis has its own subnet group."""
    for group in view.of_type(T_REDIS):
        if not view.refs(group, "subnetGroupName", T_CACHE_SUBNET_GROUP):
            fail(
                group,
                "does not use a subnet group of this stack",
                "create an aws.elasticache.SubnetGroup on the private subnets and use it",
            )


@_stack_check
def _http_redirects(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B12: with an HTTPS listener, port 80 only redirects."""
    listeners = view.of_type(T_LISTENER)
    for lb in view.of_type(T_LOAD_BALANCER):
        own = [
            listener
            for listener in listeners
            if lb in view.refs(listener, "loadBalancerArn")
            or any(ref.urn == lb.urn for ref in view.refs(listener, "loadBalancerArn"))
        ]
        if not any(listener.props.get("protocol") == "HTTPS" for listener in own):
            continue
        for listener in own:
            if listener.props.get("protocol") != "HTTP":
                continue
            actions = [
                action
                for action in _as_list(listener.props.get("defaultActions"))
                if isinstance(action, Mapping)
            ]
            if not actions or any(
                action.get("type") != "redirect"
                or (action.get("redirect") or {}).get("protocol") != "HTTPS"
                for action in actions
            ):
                fail(
                    listener,
                    "serves plain HTTP although the ALB has HTTPS",
                    "make the port 80 listener redirect to HTTPS (HTTP_301)",
                )


@_stack_check
def _lambda_vpc_access(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A11: a function in a VPC may create its network interfaces."""
    for function in view.of_type(T_LAMBDA):
        if not (function.props.get("vpcConfig") or {}).get("subnetIds"):
            continue
        for role in view.refs(function, "role", T_ROLE):
            statements, attached = _role_documents(view, role)
            actions = {
                str(action)
                for statement in statements
                for action in _as_list(statement.get("Action"))
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


@_stack_check
def _api_invokes_serving_function(
    view: StackView, fail: StackFail, _args: StackValidationArgs
) -> None:
    """A11: what the HTTP API may invoke finishes under its 30 s (never the migrate function)."""
    for permission in view.of_type(T_LAMBDA_PERMISSION):
        if permission.props.get("principal") != "apigateway.amazonaws.com":
            continue
        for function in view.refs(permission, "function", T_LAMBDA):
            timeout = _number(function.props.get("timeout"))
            if timeout is None or timeout >= API_GATEWAY_TIMEOUT_SECONDS:
                fail(
                    permission,
                    f"lets the HTTP API invoke {function.name}, whose timeout "
                    f"({function.props.get('timeout')!r} s) outlasts the API's "
                    f"{API_GATEWAY_TIMEOUT_SECONDS} s",
                    "point the permission (and the integration) at the serving function's alias",
                )


@_stack_check
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


@_stack_check
def _private_placement(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A13 and B4: proxy, tasks, functions and data subnet groups live in private subnets."""
    public = view.public_subnets()
    placed = (
        [(proxy, "vpcSubnetIds") for proxy in view.of_type(T_RDS_PROXY)]
        + [(service, "networkConfiguration") for service in view.of_type(T_ECS_SERVICE)]
        + [(function, "vpcConfig") for function in view.of_type(T_LAMBDA)]
        + [(group, "subnetIds") for group in view.of_type(T_RDS_SUBNET_GROUP, T_CACHE_SUBNET_GROUP)]
    )
    for resource, key in placed:
        exposed = sorted(
            subnet.name for subnet in view.refs(resource, key, T_SUBNET) if subnet.urn in public
        )
        if exposed:
            fail(
                resource,
                f"is placed in public subnets ({', '.join(exposed)})",
                "use the network's private subnets",
            )


@_stack_check
def _private_egress(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """A7: private tasks/functions reach ECR, logs and SSM through NAT or VPC endpoints."""
    workloads = [(service, "networkConfiguration") for service in view.of_type(T_ECS_SERVICE)] + [
        (function, "vpcConfig") for function in view.of_type(T_LAMBDA)
    ]
    if not workloads:
        return
    nat_tables = {
        table.urn
        for route in view.of_type(T_ROUTE)
        if view.refs(route, "natGatewayId", T_NAT_GATEWAY)
        and route.props.get("destinationCidrBlock") == "0.0.0.0/0"
        for table in view.refs(route, "routeTableId")
    }
    endpoints = {
        str(endpoint.props.get("serviceName", "")).rsplit(".", 1)[-1]
        for endpoint in view.of_type(T_VPC_ENDPOINT)
    }
    endpoint_names = {
        str(endpoint.props.get("serviceName", "")) for endpoint in view.of_type(T_VPC_ENDPOINT)
    }
    has_endpoints = (
        {"logs", "ssm", "s3"} <= endpoints
        and any(name.endswith("ecr.dkr") for name in endpoint_names)
        and any(name.endswith("ecr.api") for name in endpoint_names)
    )
    for resource, key in workloads:
        for subnet in view.refs(resource, key, T_SUBNET):
            tables = {
                table.urn
                for association in view.referring(subnet, "subnetId", T_RT_ASSOCIATION)
                for table in view.refs(association, "routeTableId")
            }
            if not (tables & nat_tables) and not has_endpoints:
                fail(
                    resource,
                    f"subnet {subnet.name} has no route to a NAT gateway and the VPC "
                    "lacks endpoints for ECR, logs and SSM",
                    "set natStrategy single/per-az, or vpcEndpoints: true",
                )


# ------------------------------------------------------- B18-B20, C8: telemetry


@_on(T_LOAD_BALANCER)
def _alb_telemetry(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B18: access logs go to a bucket; prod ALBs log and refuse deletion."""
    logs = props.get("accessLogs") or {}
    enabled = isinstance(logs, Mapping) and logs.get("enabled") is True
    if enabled and not logs.get("bucket"):
        fail("access logs are enabled without a bucket", "set access_logs.bucket to the log bucket")
    if not is_production(args.get_config()):
        return
    if not enabled:
        fail(
            "prod load balancer without access logs (CKV_AWS_91)",
            "set albAccessLogs: true (the stack's access-log bucket)",
        )
    if props.get("enableDeletionProtection") is not True:
        fail(
            "prod load balancer without deletion protection (CKV_AWS_150)",
            "set albDeletionProtection: true",
        )


def _bucket_parts(view: StackView, bucket: PolicyResource, type_: str) -> list[PolicyResource]:
    """The sub-resources of ``type_`` that configure ``bucket``."""
    return view.referring(bucket, "bucket", type_)


def _elb_principal(region: str) -> dict[str, str] | None:
    from infra.documents import elb_logs

    try:
        return elb_logs.log_delivery_principal(region)
    except ValueError:
        return None


@_stack_check
def _access_log_bucket(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B18: the bucket an ALB logs to is private, SSE-S3, expiring, TLS-only, and admits
    exactly the region's ELB log delivery on the load balancer's prefix."""
    buckets = {str(b.props.get("bucket")): b for b in view.of_type(T_S3_BUCKET)}
    for lb in view.of_type(T_LOAD_BALANCER):
        logs = lb.props.get("accessLogs") or {}
        if not isinstance(logs, Mapping) or logs.get("enabled") is not True:
            continue
        bucket = buckets.get(str(logs.get("bucket")))
        if bucket is None:
            fail(
                lb,
                "logs to a bucket this stack does not manage",
                "log to the stack's access-log bucket (infra/components/access_logs.py)",
            )
            continue
        blocks = _bucket_parts(view, bucket, T_S3_PUBLIC_ACCESS)
        if not any(
            all(block.props.get(f) is True for f in PUBLIC_ACCESS_FLAGS) for block in blocks
        ):
            fail(
                bucket,
                "public access is not fully blocked",
                "add a BucketPublicAccessBlock with all four flags true",
            )
        algorithms = [
            str((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"))
            for config in _bucket_parts(view, bucket, T_S3_ENCRYPTION)
            for rule in _as_list(config.props.get("rules"))
            if isinstance(rule, Mapping)
        ]
        if algorithms != ["AES256"]:
            fail(
                bucket,
                f"default encryption is {algorithms or 'not configured'} "
                "(ALB log delivery supports SSE-S3 only)",
                'set sse_algorithm="AES256"',
            )
        ownership = [
            (o.props.get("rule") or {}).get("objectOwnership")
            for o in _bucket_parts(view, bucket, T_S3_OWNERSHIP)
        ]
        if "BucketOwnerEnforced" not in ownership:
            fail(
                bucket,
                "ACLs are not disabled",
                'add BucketOwnershipControls with object_ownership="BucketOwnerEnforced"',
            )
        expiring = [
            rule
            for config in _bucket_parts(view, bucket, T_S3_LIFECYCLE)
            for rule in _as_list(config.props.get("rules"))
            if isinstance(rule, Mapping)
            and rule.get("status") == "Enabled"
            and (_number((rule.get("expiration") or {}).get("days")) or 0) > 0
        ]
        if not expiring:
            fail(
                bucket,
                "logs never expire",
                "add a lifecycle rule expiring objects after logRetentionDays",
            )
        _check_log_bucket_policy(view, lb, bucket, str(logs.get("prefix") or ""), fail)


def _check_log_bucket_policy(
    view: StackView, lb: PolicyResource, bucket: PolicyResource, prefix: str, fail: StackFail
) -> None:
    """B18: the bucket policy's allows and its TLS deny; the ALB waits for it."""
    policies = _bucket_parts(view, bucket, T_S3_POLICY)
    if not policies:
        fail(bucket, "has no bucket policy", "attach the access-log bucket policy")
        return
    if not any(dep.urn in {p.urn for p in policies} for dep in lb.dependencies):
        fail(
            lb,
            "does not depend on its log bucket's policy",
            "depends_on the BucketPolicy (ELB checks it can write when logging is enabled)",
        )
    arn = str(lb.props.get("arn") or "")
    parts = arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 4 else ("", "")
    principal = _elb_principal(region)
    name = str(bucket.props.get("bucket"))
    expected_resource = f"arn:aws:s3:::{name}/{prefix}/AWSLogs/{account}/*"
    statements = [s for p in policies for s in _statements(p.props.get("policy"))]
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    if not allows:
        fail(bucket, "the bucket policy admits no log delivery", "allow the region's ELB account")
    for allow in allows:
        granted = dict(_principals(allow.get("Principal")))
        if principal is None or granted != principal:
            fail(
                bucket,
                f"the bucket policy admits {sorted(granted.items())}, not the region's ELB "
                "log delivery",
                "admit exactly infra.documents.elb_logs.log_delivery_principal(region)",
            )
        if _as_list(allow.get("Action")) != ["s3:PutObject"]:
            fail(bucket, "log delivery may do more than s3:PutObject", "allow s3:PutObject only")
        if _as_list(allow.get("Resource")) != [expected_resource]:
            fail(
                bucket,
                "log delivery may write outside the load balancer's prefix",
                f"limit the resource to {expected_resource}",
            )
    tls = [
        s
        for s in statements
        if s.get("Effect") == "Deny"
        and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport"))
        == "false"
    ]
    if not tls:
        fail(
            bucket,
            "the bucket policy does not refuse requests without TLS",
            "deny s3:* when aws:SecureTransport is false",
        )


@_on(T_RDS_INSTANCE)
def _rds_telemetry(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B20 (IAM database authentication) and, in prod, B19 (Performance Insights,
    Enhanced Monitoring)."""
    if props.get("iamDatabaseAuthenticationEnabled") is not True:
        fail(
            "IAM database authentication is off (CKV_AWS_161)",
            "set iam_database_authentication_enabled=True",
        )
    interval = _number(props.get("monitoringInterval")) or 0
    if interval > 0 and not props.get("monitoringRoleArn"):
        fail("Enhanced Monitoring has no role", "set monitoring_role_arn")
    if not is_production(args.get_config()):
        return
    if props.get("performanceInsightsEnabled") is not True:
        fail(
            "prod database without Performance Insights (CKV_AWS_353)",
            "set dbPerformanceInsights: true",
        )
    elif (
        _number(props.get("performanceInsightsRetentionPeriod")) or 0
    ) < PROD_MIN_PERFORMANCE_INSIGHTS_DAYS:
        fail(
            "Performance Insights keeps less than 7 days",
            f"set performance_insights_retention_period={PROD_MIN_PERFORMANCE_INSIGHTS_DAYS}",
        )
    if interval <= 0:
        fail(
            "prod database without Enhanced Monitoring (CKV_AWS_118)",
            "set dbMonitoringIntervalSeconds: 60",
        )


@_on(T_RDS_PARAMETER_GROUP)
def _rds_logging(
    props: Mapping[str, Any], _name: str, fail: Fail, args: ResourceValidationArgs
) -> None:
    """B19: PostgreSQL logs slow statements, DDL and lock waits (CKV2_AWS_30)."""
    if not str(props.get("family") or "").startswith("postgres"):
        return
    values = {
        str(item.get("name")): str(item.get("value"))
        for item in _as_list(props.get("parameters"))
        if isinstance(item, Mapping)
    }
    duration = _number(values.get("log_min_duration_statement"))
    if duration is None or duration < 0:
        fail(
            "slow statements are not logged (log_min_duration_statement unset or -1)",
            "set dbLogMinDurationMs (log_min_duration_statement) to 0 or more",
        )
    elif is_production(args.get_config()) and duration > PROD_MAX_LOG_MIN_DURATION_MS:
        fail(
            f"prod logs only statements slower than {duration:g} ms",
            f"set dbLogMinDurationMs: {PROD_MAX_LOG_MIN_DURATION_MS} or less",
        )
    if values.get("log_statement") not in LOGGED_STATEMENT_CLASSES:
        fail(
            f"log_statement is {values.get('log_statement')!r}",
            'set log_statement = "ddl" (schema changes are logged)',
        )
    if values.get("log_lock_waits") != "1":
        fail("lock waits are not logged", 'set log_lock_waits = "1"')


@_stack_check
def _rds_monitoring_role(view: StackView, fail: StackFail, _args: StackValidationArgs) -> None:
    """B19: Enhanced Monitoring's role trusts exactly RDS monitoring, with AWS's policy."""
    for instance in view.of_type(T_RDS_INSTANCE):
        if (_number(instance.props.get("monitoringInterval")) or 0) <= 0:
            continue
        roles = view.refs(instance, "monitoringRoleArn", T_ROLE)
        if not roles:
            fail(
                instance,
                "Enhanced Monitoring uses a role this stack does not manage",
                "create the monitoring role in the Database component",
            )
        for role in roles:
            trusted = {
                value
                for statement in _statements(role.props.get("assumeRolePolicy"))
                for kind, value in _principals(statement.get("Principal"))
            }
            if trusted != {RDS_MONITORING_PRINCIPAL}:
                fail(
                    role,
                    f"the monitoring role trusts {sorted(trusted)}",
                    f"trust {RDS_MONITORING_PRINCIPAL} only",
                )
            attached = {
                str(a.props.get("policyArn"))
                for a in view.referring(role, "role", T_ROLE_ATTACHMENT)
            }
            if RDS_MONITORING_MANAGED_POLICY not in attached:
                fail(
                    role,
                    "the monitoring role lacks AmazonRDSEnhancedMonitoringRole",
                    f"attach {RDS_MONITORING_MANAGED_POLICY}",
                )


@_stack_check
def _proxy_secret_follows_password(
    view: StackView, fail: StackFail, _args: StackValidationArgs
) -> None:
    """C8: the proxy's Secrets Manager secret is written from the same generated
    password as the database, so a revision bump rotates both in one deploy, and
    no Secrets Manager rotation changes it behind the program's back."""
    passwords = {
        dep.urn
        for instance in view.of_type(T_RDS_INSTANCE)
        for dep in view.refs(instance, "password", T_RANDOM_PASSWORD)
    }
    for proxy in view.of_type(T_RDS_PROXY):
        for secret in view.refs(proxy, "auths", T_SECRET):
            versions = view.referring(secret, "secretId", T_SECRET_VERSION)
            sources = {
                dep.urn
                for version in versions
                for dep in view.refs(version, "secretString", T_RANDOM_PASSWORD)
            }
            if not versions or not sources or not sources <= passwords:
                fail(
                    secret,
                    "the proxy's secret is not written from the database's generated password",
                    "set its SecretVersion from the same RandomPassword as the RDS instance "
                    "(databasePasswordRevision rotates both)",
                )
            for rotation in view.referring(secret, "secretId", T_SECRET_ROTATION):
                fail(
                    rotation,
                    "rotates the proxy's secret apart from the database password in state",
                    "rotate with databasePasswordRevision instead (docs/runbook.md)",
                )


# ------------------------------------------------------------------ registry


@dataclass(frozen=True)
class PolicySpec:
    """One policy, the INVARIANTS.md lines it covers and whether it is prod-only."""

    policy: ResourceValidationPolicy | StackValidationPolicy
    invariants: tuple[str, ...]

    @property
    def name(self) -> str:
        """The policy's name (unique in the pack)."""
        return str(self.policy.name)


def _resource(name: str, description: str, invariants: str, validate: ResourceCheck) -> PolicySpec:
    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    return PolicySpec(policy, tuple(invariants.split()))


def _stack(name: str, description: str, invariants: str, validate: StackCheck) -> PolicySpec:
    policy = StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    return PolicySpec(policy, tuple(invariants.split()))


SPECS: Final[tuple[PolicySpec, ...]] = (
    _resource(
        "target-group-fargate-shape",
        "Fargate target groups: ip targets, HTTP on the app port, /health, 200, quick drain.",
        "A2 A15",
        _target_group,
    ),
    _resource(
        "ecs-task-definition",
        "Task definitions: valid container documents, hardened containers, secrets by ARN.",
        "A5 A6 A10 B6 B7 B10",
        _task_definition,
    ),
    _resource(
        "ecs-service-deployment",
        "ECS services: circuit breaker, steady-state wait, grace period, no public IP.",
        "A15 B4",
        _ecs_service,
    ),
    _resource(
        "load-balancer-name-length",
        "Load balancer and target group names fit AWS's 32 characters.",
        "A14",
        _lb_name_length,
    ),
    _resource(
        "lambda-function",
        "Lambda: image by digest, lambda_handler.handler, timeout < 30 s, SSM names only.",
        "A10 A11 B7 B10",
        _lambda_function,
    ),
    _resource(
        "http-api",
        "HTTP API: AWS_PROXY 2.0, $default stage with logs and throttling, scoped invoke.",
        "A12 B14",
        _http_api,
    ),
    _resource(
        "rds-proxy",
        "RDS Proxy: TLS required, Secrets Manager or IAM authentication.",
        "A13",
        _rds_proxy,
    ),
    _resource(
        "security-group-descriptions",
        "Every security group and rule has a description; rules are separate resources.",
        "B3",
        _sg_descriptions,
    ),
    _resource("no-public-ip-on-launch", "Subnets never map public IPs.", "B4", _subnet),
    _resource("ecr-repository", "ECR: scan on push, immutable tags.", "B5", _ecr),
    _resource("ssm-secure-string", "SSM parameters are SecureString.", "B8", _ssm),
    _resource(
        "rds-instance",
        "RDS: valid, private, encrypted, backed up; prod: protected, Multi-AZ, snapshot.",
        "A8 A9 B9 C3",
        _rds,
    ),
    _resource(
        "rds-parameter-group-tls",
        "PostgreSQL parameter groups force TLS (rds.force_ssl=1).",
        "B9",
        _rds_parameters,
    ),
    _resource(
        "redis-replication-group",
        "Redis: encrypted, AUTH token, own subnets; prod: failover, Multi-AZ, snapshots.",
        "A8 B10 C4",
        _redis,
    ),
    _resource(
        "generated-password-charset",
        "Generated passwords use only characters RDS and ElastiCache accept.",
        "A8",
        _random_password,
    ),
    _resource(
        "log-group-retention",
        "Log groups have retention (prod: a year or more).",
        "B13",
        _log_group,
    ),
    _resource(
        "ecs-container-insights", "Prod ECS clusters have Container Insights.", "B15", _cluster
    ),
    _resource(
        "alb-hardening",
        "ALB drops invalid headers, no monitor-only desync mitigation, HTTPS on TLS 1.2+.",
        "B12",
        _alb,
    ),
    _resource(
        "iam-least-privilege",
        "IAM: no wildcard actions or admin policies, exact trust principals, scoped GitHub OIDC.",
        "B11",
        _iam,
    ),
    _resource(
        "required-tags",
        "Every taggable AWS resource carries project, stack and compute tags.",
        "C7",
        _tags,
    ),
    _resource(
        "explicit-names-delete-before-replace",
        "Explicit physical names only with delete_before_replace.",
        "C2",
        _explicit_names,
    ),
    _resource(
        "allowed-account-ids",
        "Prod: the AWS provider is restricted to the configured accounts.",
        "C5",
        _allowed_accounts,
    ),
    _stack(
        "proxy-multi-az",
        "The RDS Proxy spans the private subnets of at least 2 AZs.",
        "A13",
        _proxy_multi_az,
    ),
    _stack(
        "role-trusts-its-user",
        "Each role trusts exactly the service principal that assumes it.",
        "B11",
        _role_trusts_its_user,
    ),
    _stack(
        "multi-az-placement", "ALB and data subnet groups span at least 2 AZs.", "A1", _multi_az
    ),
    _stack(
        "service-depends-on-listener",
        "An ECS service behind a target group depends on its listener.",
        "A3",
        _service_after_listener,
    ),
    _stack(
        "runtime-role-scope",
        "Execution/function roles pull, log and read exactly the app's SSM parameters.",
        "A6",
        _runtime_role_scope,
    ),
    _stack(
        "single-cpu-architecture",
        "Image, ECS runtime platform and Lambda share one CPU architecture.",
        "A10",
        _single_architecture,
    ),
    _stack(
        "world-ingress-only-to-alb",
        "Only the internet-facing ALB admits 0.0.0.0/0 or ::/0, on 80/443.",
        "B1",
        _world_ingress,
    ),
    _stack(
        "ingress-from-security-groups",
        "Task, function, RDS, Redis and Proxy groups admit only security groups on their port.",
        "B2",
        _sg_to_sg,
    ),
    _stack(
        "ecr-lifecycle-policy", "Every ECR repository has a lifecycle policy.", "B5", _ecr_lifecycle
    ),
    _stack(
        "no-plaintext-secrets",
        "No secret value in a function environment or container definition.",
        "B7",
        _no_plaintext_secrets,
    ),
    _stack(
        "rds-uses-tls-parameter-group",
        "The RDS instance uses this stack's TLS-forcing parameter group.",
        "B9",
        _rds_tls,
    ),
    _stack(
        "redis-own-subnet-group",
        "Redis uses a subnet group of this stack.",
        "B10",
        _redis_subnet_group,
    ),
    _stack(
        "https-redirects-http",
        "With HTTPS, the ALB's port 80 only redirects.",
        "B12",
        _http_redirects,
    ),
    _stack(
        "lambda-vpc-access",
        "A function in a VPC has the VPC access policy.",
        "A11",
        _lambda_vpc_access,
    ),
    _stack(
        "api-invokes-serving-function",
        "The HTTP API invokes only a function that finishes under its 30 s.",
        "A11",
        _api_invokes_serving_function,
    ),
    _stack(
        "api-permission-scoped",
        "API Gateway may invoke the function only from this stack's API.",
        "A12",
        _api_permission,
    ),
    _stack(
        "private-placement",
        "Proxy, tasks, functions and data subnet groups use private subnets.",
        "A13 B4",
        _private_placement,
    ),
    _stack(
        "private-egress-path",
        "Private workloads reach ECR, logs and SSM through NAT or VPC endpoints.",
        "A7",
        _private_egress,
    ),
    _resource(
        "alb-telemetry",
        "ALB access logs name a bucket; prod: access logs on and deletion protection.",
        "B18",
        _alb_telemetry,
    ),
    _stack(
        "access-log-bucket",
        "The ALB's log bucket: private, SSE-S3, expiring, TLS-only, ELB delivery on its prefix.",
        "B18",
        _access_log_bucket,
    ),
    _resource(
        "rds-telemetry",
        "RDS: IAM database authentication; prod: Performance Insights, Enhanced Monitoring.",
        "B19 B20",
        _rds_telemetry,
    ),
    _resource(
        "rds-parameter-group-logging",
        "PostgreSQL logs slow statements, DDL and lock waits (prod: 1 s or faster).",
        "B19",
        _rds_logging,
    ),
    _stack(
        "rds-monitoring-role",
        "Enhanced Monitoring's role trusts monitoring.rds only, with AWS's managed policy.",
        "B19",
        _rds_monitoring_role,
    ),
    _stack(
        "proxy-secret-follows-password",
        "The proxy's secret is written from the database's generated password; no rotation.",
        "C8",
        _proxy_secret_follows_password,
    ),
)

POLICIES: Final[list[Policy]] = [spec.policy for spec in SPECS]
INVARIANTS_BY_POLICY: Final[Mapping[str, tuple[str, ...]]] = {
    spec.name: spec.invariants for spec in SPECS
}
