"""The Fargate shape as the real program builds it, dev and prod, under mocks.

Every assertion reads what the program registered (``build_stack``, see
tests/infra/harness.py); each test names the docs/invariants.md ids it covers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.fargate import COMPONENT_TYPE, TLS_POLICY
from infra.documents import task_definition as td
from tests.infra.aws_models import assert_valid_policy, assert_valid_request
from tests.infra.conftest import BuildStack
from tests.infra.harness import HarnessError, ResourceRecord, StackResult

CLUSTER = "aws:ecs/cluster:Cluster"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
IMAGE = "docker:index/image:Image"

# Security policies that allow nothing older than TLS 1.2.
TLS12_OR_NEWER = {
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, build_stack: BuildStack) -> StackResult:
    """The dev and the prod stack with compute=fargate."""
    return build_stack(request.param, compute="fargate")


# --- helpers ---------------------------------------------------------------------------


def config(stack: StackResult, key: str) -> str:
    """A project config value as the program received it (a string)."""
    return stack.config[f"fastapi-on-aws:{key}"]


def fargate(stack: StackResult, type_: str) -> list[ResourceRecord]:
    """Resources of ``type_`` inside the Fargate component."""
    return stack.inside(COMPONENT_TYPE, type_)


def only(stack: StackResult, type_: str, suffix: str = "") -> ResourceRecord:
    """The one resource of ``type_`` in the Fargate component named ``*suffix``."""
    matches = [r for r in fargate(stack, type_) if r.name.endswith(suffix)]
    assert len(matches) == 1, f"{type_} *{suffix}: {[r.name for r in matches]}"
    return matches[0]


def container(stack: StackResult) -> dict[str, Any]:
    """The single container definition the task registers."""
    (definition,) = json.loads(only(stack, TASK_DEFINITION).inputs["containerDefinitions"])
    assert isinstance(definition, dict)
    return definition


def parameter_arns(stack: StackResult) -> dict[str, str]:
    """SSM parameter name → ARN, from the Secrets component's parameters."""
    return {record.inputs["name"]: record.outputs["arn"] for record in stack.find(SSM_PARAMETER)}


def serving_listener(stack: StackResult) -> ResourceRecord:
    """The listener that forwards to the target group."""
    (listener,) = [
        r for r in fargate(stack, LISTENER) if r.inputs["defaultActions"][0]["type"] == "forward"
    ]
    return listener


# --- shape -----------------------------------------------------------------------------


def test_every_resource_of_the_shape_is_built_inside_the_component(stack: StackResult) -> None:
    """Issue items 1-6: each resource exists once, as a descendant of the component."""
    expected = {
        CLUSTER: 1,
        LOG_GROUP: 1,
        ROLE: 2,
        ROLE_POLICY: 1,
        ATTACHMENT: 1,
        SECURITY_GROUP: 2,
        LOAD_BALANCER: 1,
        TARGET_GROUP: 1,
        LISTENER: 2 if config(stack, "certificateArn") else 1,
        TASK_DEFINITION: 1,
        SERVICE: 1,
        SCALABLE_TARGET: 1,
        SCALING_POLICY: 2,
    }
    assert {type_: len(fargate(stack, type_)) for type_ in expected} == expected
    # Nothing of the shape leaks outside the component (a compute switch removes it all).
    for type_ in (CLUSTER, SERVICE, TASK_DEFINITION, LOAD_BALANCER, TARGET_GROUP, LISTENER):
        assert len(stack.find(type_)) == len(fargate(stack, type_)), type_


def test_log_group_retention_and_cluster_settings_follow_config(stack: StackResult) -> None:
    """Issue item 1: log retention from config; Container Insights per environment."""
    assert only(stack, LOG_GROUP).inputs["retentionInDays"] == int(
        config(stack, "logRetentionDays")
    )
    settings = {s["name"]: s["value"] for s in only(stack, CLUSTER).inputs["settings"]}
    insights = config(stack, "containerInsights") == "true"
    assert settings == {"containerInsights": "enabled" if insights else "disabled"}


def test_b15_production_cluster_has_container_insights(build_stack: BuildStack) -> None:
    """B15 (P): prod runs Container Insights, and refuses to turn it off."""
    prod = build_stack("prod", compute="fargate")
    assert only(prod, CLUSTER).inputs["settings"] == [
        {"name": "containerInsights", "value": "enabled"}
    ]
    with pytest.raises(HarnessError, match="containerInsights"):
        build_stack("prod", compute="fargate", containerInsights=False)


# --- A2: target group and health check -------------------------------------------------


def test_a2_target_group_is_ip_http_on_the_container_port(stack: StackResult) -> None:
    """A2: ip targets, HTTP, port = the container's port = the service's container port."""
    group = only(stack, TARGET_GROUP)
    assert group.inputs["targetType"] == "ip"
    assert group.inputs["protocol"] == "HTTP"
    (mapping,) = container(stack)["portMappings"]
    assert group.inputs["port"] == mapping["containerPort"] == td.CONTAINER_PORT
    (attachment,) = only(stack, SERVICE).inputs["loadBalancers"]
    assert attachment["targetGroupArn"] == group.outputs["arn"]
    assert attachment["containerName"] == container(stack)["name"]
    assert attachment["containerPort"] == td.CONTAINER_PORT


def test_a2_health_check_probes_the_liveness_route_with_sane_thresholds(
    stack: StackResult,
) -> None:
    """A2: /health (the no-dependency liveness route), matcher 200, sane timings."""
    check = only(stack, TARGET_GROUP).inputs["healthCheck"]
    assert check["enabled"] is True
    assert check["path"] == td.HEALTH_CHECK_PATH == "/health"
    assert check["matcher"] == "200"
    assert check["protocol"] == "HTTP"
    assert check["port"] == "traffic-port"
    assert 2 <= check["healthyThreshold"] <= 5
    assert 2 <= check["unhealthyThreshold"] <= 5
    assert 5 <= check["interval"] <= 30
    assert check["timeout"] < check["interval"]
    # The container's own probe checks the same route on the same port.
    assert f":{td.CONTAINER_PORT}/health'" in " ".join(container(stack)["healthCheck"]["command"])


# --- A3 --------------------------------------------------------------------------------


def test_a3_service_depends_on_the_listener_that_uses_its_target_group(
    stack: StackResult,
) -> None:
    """A3: the ECS service waits for the forwarding listener of its target group."""
    listener = serving_listener(stack)
    group = only(stack, TARGET_GROUP)
    assert listener.inputs["defaultActions"][0]["targetGroupArn"] == group.outputs["arn"]
    assert listener.urn in only(stack, SERVICE).depends_on
    https = bool(config(stack, "certificateArn"))
    assert listener.inputs["protocol"] == ("HTTPS" if https else "HTTP")


# --- A5 --------------------------------------------------------------------------------


def test_a5_registered_task_definition_validates_against_the_ecs_model(stack: StackResult) -> None:
    """A5: the task definition the provider receives is a valid RegisterTaskDefinition."""
    inputs = only(stack, TASK_DEFINITION).inputs
    request = {
        "family": inputs["family"],
        "containerDefinitions": json.loads(inputs["containerDefinitions"]),
        "cpu": inputs["cpu"],
        "memory": inputs["memory"],
        "networkMode": inputs["networkMode"],
        "requiresCompatibilities": inputs["requiresCompatibilities"],
        "runtimePlatform": inputs["runtimePlatform"],
        "volumes": inputs["volumes"],
        "executionRoleArn": inputs["executionRoleArn"],
        "taskRoleArn": inputs["taskRoleArn"],
    }
    assert_valid_request("ecs", "RegisterTaskDefinition", request)
    assert request["networkMode"] == "awsvpc"
    assert request["requiresCompatibilities"] == ["FARGATE"]
    assert (request["cpu"], request["memory"]) == (
        config(stack, "taskCpu"),
        config(stack, "taskMemory"),
    )


def test_a5_container_image_is_the_built_image_pinned_by_digest(stack: StackResult) -> None:
    """A5: the container runs exactly the image pulumi-docker pushed, by digest."""
    image = container(stack)["image"]
    assert image == stack.outputs["imageRef"]
    assert "@sha256:" in image
    assert image.startswith(stack.outputs["repositoryUrl"] + "@")


# --- A6 / B11: IAM ---------------------------------------------------------------------


def roles(stack: StackResult) -> tuple[ResourceRecord, ResourceRecord]:
    """(execution role, task role) as the task definition references them."""
    inputs = only(stack, TASK_DEFINITION).inputs
    by_arn = {role.outputs["arn"]: role for role in fargate(stack, ROLE)}
    return by_arn[inputs["executionRoleArn"]], by_arn[inputs["taskRoleArn"]]


def test_a6_execution_role_reads_exactly_the_app_parameters(stack: StackResult) -> None:
    """A6: managed execution policy + ssm:GetParameters on exactly the three parameter ARNs."""
    execution, _ = roles(stack)
    attachment = only(stack, ATTACHMENT)
    assert attachment.inputs["role"] == execution.outputs["name"]
    assert attachment.inputs["policyArn"] == td.EXECUTION_MANAGED_POLICY_ARN
    inline = only(stack, ROLE_POLICY)
    assert inline.inputs["role"] in (execution.id, execution.outputs["name"])
    document = json.loads(inline.inputs["policy"])
    assert_valid_policy(document)
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["ssm:GetParameters"]
    expected = sorted(parameter_arns(stack).values())
    assert len(expected) == 3
    assert statement["Resource"] == expected
    # No customer-managed key encrypts the parameters, so no kms:Decrypt is granted.
    assert not any(record.inputs.get("keyId") for record in stack.find(SSM_PARAMETER))


def test_a6_task_role_is_separate_and_has_no_permissions(stack: StackResult) -> None:
    """A6 [CKV_AWS_249]: the task role is not the execution role and is granted nothing."""
    execution, task = roles(stack)
    assert execution.urn != task.urn
    assert execution.outputs["arn"] != task.outputs["arn"]
    grants = [*stack.find(ROLE_POLICY), *stack.find(ATTACHMENT)]
    assert not [g.name for g in grants if g.inputs["role"] in (task.id, task.outputs["name"])]


def test_b11_trust_policies_name_ecs_tasks_and_no_wildcard_actions(stack: StackResult) -> None:
    """B11: both roles trust exactly ecs-tasks.amazonaws.com; no `*` action anywhere."""
    for role in roles(stack):
        trust = json.loads(role.inputs["assumeRolePolicy"])
        assert_valid_policy(trust, trust=True)
        assert [s["Principal"] for s in trust["Statement"]] == [
            {"Service": "ecs-tasks.amazonaws.com"}
        ]
    for record in fargate(stack, ROLE_POLICY):
        for statement in json.loads(record.inputs["policy"])["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                assert action != "*", action
                assert not action.endswith(":*"), action
    assert all("AdministratorAccess" not in a.inputs["policyArn"] for a in stack.find(ATTACHMENT))


# --- A10 -------------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "platform", "ecs"), [
    ("x86_64", "linux/amd64", "X86_64"),
    ("arm64", "linux/arm64", "ARM64"),
])  # fmt: skip
def test_a10_image_architecture_equals_the_task_architecture(
    build_stack: BuildStack, arch: str, platform: str, ecs: str
) -> None:
    """A10: the image is built for the architecture the task runs on."""
    for name in ("dev", "prod"):
        built = build_stack(name, compute="fargate", cpuArchitecture=arch)
        (image,) = built.find(IMAGE)
        assert image.inputs["build"]["platform"] == platform
        assert image.inputs["build"]["target"] == "service"
        assert only(built, TASK_DEFINITION).inputs["runtimePlatform"] == {
            "cpuArchitecture": ecs,
            "operatingSystemFamily": "LINUX",
        }


# --- A15 -------------------------------------------------------------------------------


def test_a15_deploys_converge_fast_and_roll_back(stack: StackResult) -> None:
    """A15: deregistration ≤ 30 s, grace period set, circuit breaker + rollback, steady state."""
    assert only(stack, TARGET_GROUP).inputs["deregistrationDelay"] <= 30
    service = only(stack, SERVICE).inputs
    grace = int(config(stack, "healthCheckGraceSeconds"))
    assert grace > 0
    assert service["healthCheckGracePeriodSeconds"] == grace
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["waitForSteadyState"] is True
    assert service["deploymentMinimumHealthyPercent"] == 100
    assert service["deploymentMaximumPercent"] == 200
    # The container may stop no later than the target has drained.
    assert container(stack)["stopTimeout"] <= 30


# --- service placement and network -----------------------------------------------------


def test_service_runs_private_without_public_ip_behind_its_own_group(stack: StackResult) -> None:
    """Issue item 5 / B4: private subnets, no public IP, the task security group only."""
    service = only(stack, SERVICE).inputs
    network = service["networkConfiguration"]
    assert network["assignPublicIp"] is False
    assert network["subnets"] == stack.outputs["privateSubnetIds"]
    assert network["securityGroups"] == [only(stack, SECURITY_GROUP, "task-sg").id]
    assert service["launchType"] == "FARGATE"
    assert service["desiredCount"] == int(config(stack, "desiredCount"))
    assert service["propagateTags"] == "SERVICE"
    # Autoscaling owns the count after creation; a deploy must not reset it.
    assert "desiredCount" in only(stack, SERVICE).ignore_changes


def test_task_group_admits_only_the_load_balancer_on_8000(stack: StackResult) -> None:
    """B2: the tasks accept 8000 from the ALB's group and nothing else."""
    task_sg = only(stack, SECURITY_GROUP, "task-sg").id
    alb_sg = only(stack, SECURITY_GROUP, "alb-sg").id
    rules = [r.inputs for r in stack.find(INGRESS) if r.inputs["securityGroupId"] == task_sg]
    assert [(r["referencedSecurityGroupId"], r["fromPort"], r["toPort"]) for r in rules] == [
        (alb_sg, 8000, 8000)
    ]
    assert not any("cidrIpv4" in r or "cidrIpv6" in r for r in rules)


def test_data_layers_admit_the_tasks_through_rules_of_this_component(stack: StackResult) -> None:
    """B2 / contracts: the database and cache groups admit the task group on their own port."""
    task_sg = only(stack, SECURITY_GROUP, "task-sg").id
    database_sg = stack.one(SECURITY_GROUP, "database-sg").id
    cache_sg = stack.one(SECURITY_GROUP, "cache-sg").id
    admitted = {
        (r.inputs["securityGroupId"], r.inputs["fromPort"], r.inputs["toPort"])
        for r in fargate(stack, INGRESS)
        if r.inputs.get("referencedSecurityGroupId") == task_sg
    }
    assert admitted == {(database_sg, 5432, 5432), (cache_sg, 6379, 6379)}
    egress = {
        (r.inputs.get("referencedSecurityGroupId") or r.inputs.get("cidrIpv4"), r.inputs["toPort"])
        for r in fargate(stack, EGRESS)
        if r.inputs["securityGroupId"] == task_sg
    }
    assert egress == {(database_sg, 5432), (cache_sg, 6379), ("0.0.0.0/0", 443)}


def test_b3_every_group_and_rule_of_the_shape_is_described_and_separate(
    stack: StackResult,
) -> None:
    """B3: descriptions everywhere; rules are separate resources, never inline."""
    for group in fargate(stack, SECURITY_GROUP):
        assert group.inputs.get("description")
        assert not group.inputs.get("ingress")
        assert not group.inputs.get("egress")
    for rule in [*fargate(stack, INGRESS), *fargate(stack, EGRESS)]:
        assert rule.inputs.get("description"), rule.name


def test_b1_only_the_load_balancer_is_open_to_the_internet(stack: StackResult) -> None:
    """B1: world ingress only on the ALB group, only on its listener ports."""
    alb_sg = only(stack, SECURITY_GROUP, "alb-sg").id
    open_rules = [
        r.inputs for r in fargate(stack, INGRESS) if r.inputs.get("cidrIpv4") == "0.0.0.0/0"
    ]
    ports = {r["fromPort"] for r in open_rules}
    assert {r["securityGroupId"] for r in open_rules} == {alb_sg}
    assert ports == ({80, 443} if config(stack, "certificateArn") else {80})


# --- B6 / B7: container ----------------------------------------------------------------


def test_b6_container_is_hardened_and_logs_to_the_stack_log_group(stack: StackResult) -> None:
    """B6: not privileged, non-root, read-only root with a tmp volume, awslogs."""
    definition = container(stack)
    assert not definition.get("privileged", False)
    assert definition["user"].split(":")[0] not in ("", "0", "root")
    assert definition["readonlyRootFilesystem"] is True
    volumes = {v["name"] for v in only(stack, TASK_DEFINITION).inputs["volumes"]}
    assert {m["sourceVolume"] for m in definition["mountPoints"]} <= volumes
    assert any(
        m["containerPath"] == "/tmp" and not m["readOnly"] for m in definition["mountPoints"]
    )
    logs = definition["logConfiguration"]
    assert logs["logDriver"] == "awslogs"
    assert logs["options"]["awslogs-group"] == only(stack, LOG_GROUP).outputs["name"]
    assert logs["options"]["awslogs-region"] == stack.config["aws:region"]


def test_b7_secrets_reach_the_container_only_through_value_from(stack: StackResult) -> None:
    """B7: valueFrom = the stack's SSM parameter ARNs; no secret value in env or outputs."""
    definition = container(stack)
    arns = parameter_arns(stack)
    prefix = f"/fastapi-on-aws/{stack.stack}/"
    expected = {
        "API_TOKEN": arns[prefix + "api-token"],
        "DATABASE_PASSWORD": arns[prefix + "database-password"],
        "REDIS_PASSWORD": arns[prefix + "redis-password"],
    }
    assert {s["name"]: s["valueFrom"] for s in definition["secrets"]} == expected
    environment = {e["name"]: e["value"] for e in definition["environment"]}
    assert not set(expected) & set(environment)
    assert len(stack.secret_values) == 3
    rendered = only(stack, TASK_DEFINITION).inputs["containerDefinitions"]
    exported = json.dumps(stack.outputs, default=str)
    for secret in stack.secret_values:
        assert secret not in rendered
        assert secret not in exported


def test_container_environment_points_at_the_stack_data_layers(stack: StackResult) -> None:
    """docs/contracts.md: the URLs name this stack's database and cache, TLS on both."""
    environment = {e["name"]: e["value"] for e in container(stack)["environment"]}
    assert environment["ENVIRONMENT"] == ("production" if stack.stack == "prod" else "staging")
    assert environment["DATABASE_URL"] == (
        f"postgresql+asyncpg://app@{stack.outputs['databaseAddress']}:5432/app?ssl=require"
    )
    assert environment["REDIS_URL"] == f"rediss://{stack.outputs['cacheEndpoint']}:6379/0"
    assert environment["LOG_LEVEL"] == config(stack, "logLevel")
    assert environment["CACHE_TTL_SECONDS"] == config(stack, "cacheTtlSeconds")
    assert (environment["HOST"], environment["PORT"]) == ("0.0.0.0", "8000")  # noqa: S104


# --- B12: load balancer ----------------------------------------------------------------


def test_b12_load_balancer_drops_invalid_headers_and_mitigates_desync(stack: StackResult) -> None:
    """B12: public ALB in the public subnets, invalid headers dropped, desync not monitor."""
    alb = only(stack, LOAD_BALANCER).inputs
    assert alb["loadBalancerType"] == "application"
    assert alb["internal"] is False
    assert alb["subnets"] == stack.outputs["publicSubnetIds"]
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["desyncMitigationMode"] in ("defensive", "strictest")


def test_b12_prod_serves_https_on_tls12_plus_and_port_80_only_redirects(
    build_stack: BuildStack,
) -> None:
    """B12 (P): HTTPS with a TLS 1.2+/1.3 policy and the certificate; 80 redirects to 443."""
    prod = build_stack("prod", compute="fargate")
    listeners = {r.inputs["port"]: r.inputs for r in fargate(prod, LISTENER)}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"] == TLS_POLICY
    assert https["sslPolicy"] in TLS12_OR_NEWER
    assert https["certificateArn"] == config(prod, "certificateArn")
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert prod.outputs["url"].startswith("https://")


def test_b12_dev_with_a_certificate_gets_https_too(build_stack: BuildStack) -> None:
    """B12: HTTPS follows the certificate, not the stack name."""
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    dev = build_stack("dev", compute="fargate", certificateArn=arn)
    protocols = {r.inputs["port"]: r.inputs["protocol"] for r in fargate(dev, LISTENER)}
    assert protocols == {80: "HTTP", 443: "HTTPS"}
    assert serving_listener(dev).inputs["certificateArn"] == arn


def test_b12_dev_without_certificate_forwards_plain_http_only_when_allowed(
    build_stack: BuildStack,
) -> None:
    """B12: plain HTTP needs allowHttp; without it and without a certificate, no stack."""
    dev = build_stack("dev", compute="fargate")
    assert config(dev, "allowHttp") == "true"
    (listener,) = fargate(dev, LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert dev.outputs["url"].startswith("http://")
    with pytest.raises(HarnessError, match="allowHttp"):
        build_stack("dev", compute="fargate", allowHttp=False)


# --- autoscaling -----------------------------------------------------------------------


def test_autoscaling_tracks_cpu_and_requests_per_target(stack: StackResult) -> None:
    """Issue item 6: min/max from config; CPU and ALBRequestCountPerTarget tracking."""
    target = only(stack, SCALABLE_TARGET).inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (
        int(config(stack, "minCount")),
        int(config(stack, "maxCount")),
    )
    cluster = only(stack, CLUSTER).outputs["name"]
    service = only(stack, SERVICE).outputs["name"]
    assert target["resourceId"] == f"service/{cluster}/{service}"
    assert target["scalableDimension"] == "ecs:service:DesiredCount"
    policies = {
        p.inputs["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
            "predefinedMetricType"
        ]: p.inputs
        for p in fargate(stack, SCALING_POLICY)
    }
    assert set(policies) == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}
    for policy in policies.values():
        assert policy["policyType"] == "TargetTrackingScaling"
        assert policy["resourceId"] == target["resourceId"]
    cpu = policies["ECSServiceAverageCPUUtilization"]["targetTrackingScalingPolicyConfiguration"]
    assert cpu["targetValue"] == int(config(stack, "cpuTargetPercent"))
    requests = policies["ALBRequestCountPerTarget"]["targetTrackingScalingPolicyConfiguration"]
    assert requests["targetValue"] == int(config(stack, "requestsPerTarget"))
    # The label the provider's own arnSuffix attributes would give.
    alb = only(stack, LOAD_BALANCER).outputs["arnSuffix"]
    group = only(stack, TARGET_GROUP).outputs["arnSuffix"]
    assert requests["predefinedMetricSpecification"]["resourceLabel"] == f"{alb}/{group}"


# --- outputs ---------------------------------------------------------------------------


def test_outputs_name_the_url_cluster_service_and_log_group_and_hold_no_secret(
    stack: StackResult,
) -> None:
    """Issue item 8 / B7: url, cluster_name, service_name, log_group_name; none secret."""
    dns = only(stack, LOAD_BALANCER).outputs["dnsName"]
    scheme = "https" if config(stack, "certificateArn") else "http"
    assert stack.outputs["url"] == f"{scheme}://{dns}"
    assert stack.outputs["cluster_name"] == only(stack, CLUSTER).outputs["name"]
    assert stack.outputs["service_name"] == only(stack, SERVICE).outputs["name"]
    assert stack.outputs["log_group_name"] == only(stack, LOG_GROUP).outputs["name"]
    assert not stack.secret_outputs & {"url", "cluster_name", "service_name", "log_group_name"}


def test_b12_prod_without_a_certificate_is_refused(build_stack: BuildStack) -> None:
    """B12 (P): removing the certificate from prod (allowHttp false there) stops the build."""
    with pytest.raises(HarnessError, match="certificateArn"):
        build_stack("prod", compute="fargate", certificateArn=None)
