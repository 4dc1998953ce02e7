"""The Lambda shape as the real program builds it, dev and prod, under mocks.

Every assertion reads what the program registered (``build_stack``, see
tests/infra/harness.py); each test names the docs/invariants.md ids it covers.
Requests are rebuilt from the registered inputs in the AWS API's casing and
validated against botocore's models where one exists.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.serverless import COMPONENT_TYPE
from infra.config import LOG_RETENTION_DAYS
from infra.documents import serverless as ld
from tests.infra import harness
from tests.infra.aws_models import assert_valid_policy, assert_valid_request
from tests.infra.conftest import BuildStack
from tests.infra.harness import HarnessError, ResourceRecord, StackResult

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
INVOCATION = "aws:lambda/invocation:Invocation"
PERMISSION = "aws:lambda/permission:Permission"
API = "aws:apigatewayv2/api:Api"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
PROXY = "aws:rds/proxy:Proxy"
PROXY_POOL = "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"
PROXY_TARGET = "aws:rds/proxyTarget:ProxyTarget"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
DB_INSTANCE = "aws:rds/instance:Instance"
IMAGE = "docker:index/image:Image"


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, build_stack: BuildStack) -> StackResult:
    """The dev and the prod stack with compute=lambda."""
    return build_stack(request.param, compute="lambda")


# --- helpers ---------------------------------------------------------------------------


def config(stack: StackResult, key: str) -> str:
    """A project config value as the program received it (a string)."""
    return stack.config[f"fastapi-on-aws:{key}"]


def serverless(stack: StackResult, type_: str) -> list[ResourceRecord]:
    """Resources of ``type_`` inside the serverless component."""
    return stack.inside(COMPONENT_TYPE, type_)


def only(stack: StackResult, type_: str, suffix: str = "") -> ResourceRecord:
    """The one resource of ``type_`` in the serverless component named ``*suffix``."""
    matches = [r for r in serverless(stack, type_) if r.name.endswith(suffix)]
    assert len(matches) == 1, f"{type_} *{suffix}: {[r.name for r in matches]}"
    return matches[0]


def function_env(stack: StackResult) -> dict[str, str]:
    """The function's environment variables."""
    variables: dict[str, str] = only(stack, FUNCTION, "app-function").inputs["environment"][
        "variables"
    ]
    return variables


def parameters(stack: StackResult) -> dict[str, ResourceRecord]:
    """SSM parameter name → its record (the Secrets component's parameters)."""
    return {record.inputs["name"]: record for record in stack.find(SSM_PARAMETER)}


def group_id(stack: StackResult, suffix: str) -> str:
    """Id of the one security group (anywhere in the stack) whose name ends with ``suffix``."""
    return stack.one(SECURITY_GROUP, suffix).id


def alias_arn(stack: StackResult) -> str:
    """The live alias's ARN: the function ARN qualified by the alias name."""
    function_arn = only(stack, FUNCTION, "app-function").outputs["arn"]
    return f"{function_arn}:{only(stack, ALIAS).inputs['name']}"


# --- shape -----------------------------------------------------------------------------


def test_every_resource_of_the_shape_is_built_inside_the_component(stack: StackResult) -> None:
    """Issue items 2-5: each resource exists the expected number of times, in the component."""
    expected = {
        FUNCTION: 2,
        ALIAS: 1,
        INVOCATION: 1,
        PERMISSION: 1,
        API: 1,
        INTEGRATION: 1,
        ROUTE: 1,
        STAGE: 1,
        PROXY: 1,
        PROXY_POOL: 1,
        PROXY_TARGET: 1,
        SECRET: 1,
        SECRET_VERSION: 1,
        LOG_GROUP: 2,
        ROLE: 2,
        ROLE_POLICY: 2,
        ATTACHMENT: 2,
        SECURITY_GROUP: 2,
        INGRESS: 3,
        EGRESS: 4,
    }
    assert {type_: len(serverless(stack, type_)) for type_ in expected} == expected
    # Nothing of the shape leaks outside the component (a compute switch removes it all).
    for type_ in (FUNCTION, ALIAS, INVOCATION, PERMISSION, API, STAGE, PROXY, SECRET):
        assert len(stack.find(type_)) == len(serverless(stack, type_)), type_
    # And nothing of the Fargate shape is built.
    assert not stack.find("aws:ecs/service:Service")
    assert not stack.find("aws:lb/loadBalancer:LoadBalancer")


def test_outputs_are_the_api_url_function_and_log_group_and_hold_no_secret(
    stack: StackResult,
) -> None:
    """Issue outputs / B7: url, function_name, log_group_name; no secret exported."""
    assert stack.outputs["url"] == only(stack, API).outputs["apiEndpoint"]
    assert stack.outputs["url"].startswith("https://")
    assert stack.outputs["function_name"] == only(stack, FUNCTION, "app-function").outputs["name"]
    assert (
        stack.outputs["log_group_name"] == only(stack, LOG_GROUP, "function-logs").outputs["name"]
    )
    assert stack.outputs["compute"] == "lambda"
    assert not stack.secret_outputs
    dumped = json.dumps(stack.outputs, default=str)
    assert stack.secret_values
    for secret in stack.secret_values:
        assert secret not in dumped


# --- A10 / A11: the function -----------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "platform"), [("x86_64", "linux/amd64"), ("arm64", "linux/arm64")]
)
def test_a10_image_architecture_equals_the_function_architecture(
    build_stack: BuildStack, arch: str, platform: str
) -> None:
    """A10: the lambda target is built for the architecture the function runs on."""
    for name in ("dev", "prod"):
        built = build_stack(name, compute="lambda", cpuArchitecture=arch)
        (image,) = built.find(IMAGE)
        assert image.inputs["build"]["platform"] == platform
        assert image.inputs["build"]["target"] == "lambda"
        assert only(built, FUNCTION, "app-function").inputs["architectures"] == [arch]


def test_a11_function_runs_the_built_image_pinned_by_digest(stack: StackResult) -> None:
    """A11: package type Image, the pushed image by digest, the handler command."""
    inputs = only(stack, FUNCTION, "app-function").inputs
    assert inputs["packageType"] == "Image"
    assert inputs["imageUri"] == stack.outputs["imageRef"]
    assert inputs["imageUri"].startswith(stack.outputs["repositoryUrl"] + "@sha256:")
    assert inputs["imageConfig"] == {"commands": ["lambda_handler.handler"]}
    assert "runtime" not in inputs
    assert "handler" not in inputs


def test_a11_sizes_come_from_config_and_the_timeout_fits_the_api(stack: StackResult) -> None:
    """A11: memory, timeout and reserved concurrency from config; timeout < the API's 30 s."""
    inputs = only(stack, FUNCTION, "app-function").inputs
    assert inputs["memorySize"] == int(config(stack, "lambdaMemoryMb"))
    assert inputs["timeout"] == int(config(stack, "lambdaTimeoutSeconds"))
    assert inputs["reservedConcurrentExecutions"] == int(config(stack, "lambdaReservedConcurrency"))
    integration_timeout = only(stack, INTEGRATION).inputs["timeoutMilliseconds"]
    assert integration_timeout <= 30_000
    assert inputs["timeout"] * 1000 < integration_timeout


def test_a11_config_and_the_function_follow_each_other(build_stack: BuildStack) -> None:
    """A11: changed sizes reach the function; a 30 s timeout is refused by name."""
    built = build_stack(
        "dev", compute="lambda", lambdaMemoryMb=2048, lambdaTimeoutSeconds=29,
        lambdaReservedConcurrency=5,
    )  # fmt: skip
    inputs = only(built, FUNCTION, "app-function").inputs
    assert (inputs["memorySize"], inputs["timeout"], inputs["reservedConcurrentExecutions"]) == (
        2048,
        29,
        5,
    )
    with pytest.raises(HarnessError, match="lambdaTimeoutSeconds"):
        build_stack("dev", compute="lambda", lambdaTimeoutSeconds=30)


def test_a11_create_function_request_validates_against_the_lambda_model(
    stack: StackResult,
) -> None:
    """A11: the function the provider receives is a valid Lambda CreateFunction request."""
    inputs = only(stack, FUNCTION, "app-function").inputs
    request = {
        "FunctionName": only(stack, FUNCTION, "app-function").outputs["name"],
        "Role": inputs["role"],
        "Code": {"ImageUri": inputs["imageUri"]},
        "PackageType": inputs["packageType"],
        "ImageConfig": {"Command": inputs["imageConfig"]["commands"]},
        "Architectures": inputs["architectures"],
        "MemorySize": int(inputs["memorySize"]),
        "Timeout": int(inputs["timeout"]),
        "Publish": inputs["publish"],
        "VpcConfig": {
            "SubnetIds": inputs["vpcConfig"]["subnetIds"],
            "SecurityGroupIds": inputs["vpcConfig"]["securityGroupIds"],
        },
        "Environment": {"Variables": inputs["environment"]["variables"]},
        "LoggingConfig": {
            "LogFormat": inputs["loggingConfig"]["logFormat"],
            "LogGroup": inputs["loggingConfig"]["logGroup"],
        },
    }
    assert_valid_request("lambda", "CreateFunction", request)


def test_a11_function_runs_in_the_private_subnets_with_vpc_access(stack: StackResult) -> None:
    """A11 / B4: private subnets, its own group, the VPC access policy granted first."""
    function = only(stack, FUNCTION, "app-function")
    vpc = function.inputs["vpcConfig"]
    assert vpc["subnetIds"] == stack.outputs["privateSubnetIds"]
    assert vpc["securityGroupIds"] == [group_id(stack, "function-sg")]
    role = only(stack, ROLE, "function-role")
    assert function.inputs["role"] == role.outputs["arn"]
    vpc_access = [
        a
        for a in serverless(stack, ATTACHMENT)
        if a.inputs["policyArn"] == ld.VPC_ACCESS_POLICY_ARN
    ]
    assert len(vpc_access) == 1
    assert vpc_access[0].inputs["role"] == role.outputs["name"]
    # Lambda checks the ENI permissions at CreateFunction.
    assert vpc_access[0].urn in function.depends_on


# --- issue item 5: migrations before the alias moves -----------------------------------


def test_migration_runs_on_the_published_version_before_the_alias_moves(
    stack: StackResult,
) -> None:
    """Issue item 5: publish → invoke migrate → alias → API (the migrate function runs it)."""
    function = only(stack, FUNCTION, "app-function")
    migrate_function = only(stack, FUNCTION, "app-migrate-function")
    migration = only(stack, INVOCATION)
    alias = only(stack, ALIAS)
    assert function.inputs["publish"] is True
    assert migrate_function.inputs["publish"] is True
    assert migration.inputs["functionName"] == migrate_function.outputs["name"]
    assert migration.inputs["qualifier"] == migrate_function.outputs["version"]
    assert json.loads(migration.inputs["input"]) == {"action": "migrate"}
    # CRUD would add a `tf` key the handler refuses (test_serverless_contract.py).
    assert migration.inputs["lifecycleScope"] == "CREATE_ONLY"
    # A new image (digest) or serving version re-runs the migrations.
    assert migration.inputs["triggers"] == {
        "image": stack.outputs["imageRef"],
        "function_version": function.outputs["version"],
    }
    assert migrate_function.urn in migration.depends_on
    # The migration needs its SSM grant and its network path to the database.
    assert only(stack, ROLE_POLICY, "function-parameters").urn in migration.depends_on
    assert only(stack, PROXY_TARGET).urn in migration.depends_on
    for rule in (*serverless(stack, INGRESS), *serverless(stack, EGRESS)):
        assert rule.urn in migration.depends_on, rule.name
    # The alias moves after the migration, to the serving function's new version.
    assert migration.urn in alias.depends_on
    assert alias.inputs["functionName"] == function.outputs["name"]
    assert alias.inputs["functionVersion"] == function.outputs["version"]
    # The API reaches the function only through that alias.
    assert only(stack, INTEGRATION).inputs["integrationUri"] == alias_arn(stack)
    assert alias.urn in only(stack, INTEGRATION).depends_on
    assert only(stack, PERMISSION).inputs["qualifier"] == alias.inputs["name"]
    assert alias.urn in only(stack, PERMISSION).depends_on


def test_first_deploy_migration_waits_for_the_proxy_target(stack: StackResult) -> None:
    """Defect 4: the migrate function outlasts a proxy target that is minutes from AVAILABLE.

    The serving function is capped under the API's 30 s; the migration runs in a
    function of its own, from the same image and role, that retries its first
    connection for MIGRATION_CONNECT_TIMEOUT_SECONDS inside a 900 s timeout,
    one execution at a time, and that the API can never invoke.
    """
    function = only(stack, FUNCTION, "app-function")
    migrate = only(stack, FUNCTION, "app-migrate-function")
    assert function.inputs["timeout"] <= ld.MAX_FUNCTION_TIMEOUT_SECONDS
    assert migrate.inputs["timeout"] == ld.MIGRATE_FUNCTION_TIMEOUT_SECONDS == 900
    wait = int(migrate.inputs["environment"]["variables"]["MIGRATION_CONNECT_TIMEOUT_SECONDS"])
    # Minutes of waiting, with room for the migration itself inside the timeout.
    assert 300 <= wait <= migrate.inputs["timeout"] - 120
    assert "MIGRATION_CONNECT_TIMEOUT_SECONDS" not in function.inputs["environment"]["variables"]
    assert migrate.inputs["reservedConcurrentExecutions"] == 1
    for key in ("imageUri", "imageConfig", "role", "vpcConfig", "architectures", "packageType"):
        assert migrate.inputs[key] == function.inputs[key], key
    serving_env = dict(function.inputs["environment"]["variables"])
    migrate_env = dict(migrate.inputs["environment"]["variables"])
    migrate_env.pop("MIGRATION_CONNECT_TIMEOUT_SECONDS")
    assert migrate_env == serving_env
    permission = only(stack, PERMISSION)
    assert permission.inputs["function"] == function.outputs["name"]


@pytest.fixture
def migration_result(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the mocked invocation report a result (the stock mocks report none).

    The test appends the result; every build in the test sees it. The builds
    are uncached, so no shared result is affected.
    """
    results: list[str] = []
    original = harness.RecordingMocks._new_resource

    def with_result(self: harness.RecordingMocks, args: Any) -> tuple[str, dict[str, Any]]:
        resource_id, state = original(self, args)
        if args.typ == INVOCATION and results:
            state["result"] = results[-1]
        return resource_id, state

    monkeypatch.setattr(harness.RecordingMocks, "_new_resource", with_result)
    return results


def test_a_failed_migration_stops_the_deploy_before_the_alias_moves(
    migration_result: list[str],
) -> None:
    """Issue item 5: a migration that reports an error fails `pulumi up`; no alias update."""
    migration_result.append(json.dumps({"status": "ok", "revision": "0001_items"}))
    good = harness.build_stack_uncached("dev", compute="lambda")
    assert (
        only(good, ALIAS).inputs["functionVersion"]
        == only(good, FUNCTION, "app-function").outputs["version"]
    )

    migration_result.append(json.dumps({"status": "error", "error": "lock timeout"}))
    with pytest.raises(HarnessError, match="MigrationFailedError"):
        harness.build_stack_uncached("dev", compute="lambda")


# --- A12: the HTTP API -----------------------------------------------------------------


def test_a12_proxy_integration_payload_2_and_default_route(stack: StackResult) -> None:
    """A12: AWS_PROXY with payload 2.0 on the alias; one `$default` route to it."""
    api = only(stack, API)
    assert api.inputs["protocolType"] == "HTTP"
    integration = only(stack, INTEGRATION)
    assert integration.inputs["apiId"] == api.id
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    route = only(stack, ROUTE)
    assert route.inputs["apiId"] == api.id
    assert route.inputs["routeKey"] == "$default"
    assert route.inputs["target"] == f"integrations/{integration.id}"
    assert_valid_request(
        "apigatewayv2",
        "CreateIntegration",
        {
            "ApiId": integration.inputs["apiId"],
            "IntegrationType": integration.inputs["integrationType"],
            "IntegrationMethod": integration.inputs["integrationMethod"],
            "IntegrationUri": integration.inputs["integrationUri"],
            "PayloadFormatVersion": integration.inputs["payloadFormatVersion"],
            "TimeoutInMillis": int(integration.inputs["timeoutMilliseconds"]),
        },
    )


def test_a12_default_stage_deploys_automatically(stack: StackResult) -> None:
    """A12: the `$default` stage (no path prefix to break routes or /docs), auto-deployed."""
    stage = only(stack, STAGE)
    assert stage.inputs["apiId"] == only(stack, API).id
    assert stage.inputs["name"] == "$default"
    assert stage.inputs["autoDeploy"] is True
    assert only(stack, ROUTE).urn in stage.depends_on


def test_a12_invoke_permission_is_scoped_to_this_api_and_the_alias(stack: StackResult) -> None:
    """A12 [CKV_AWS_301/364]: apigateway principal, source ARN of this API, the live alias."""
    permission = only(stack, PERMISSION).inputs
    execution_arn = only(stack, API).outputs["executionArn"]
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["function"] == only(stack, FUNCTION, "app-function").outputs["name"]
    assert permission["sourceArn"].startswith(execution_arn + "/")
    assert permission["sourceArn"] == f"{execution_arn}/*/*"
    assert permission["qualifier"] == only(stack, ALIAS).inputs["name"] == ld.ALIAS_NAME
    assert_valid_request(
        "lambda",
        "AddPermission",
        {
            "FunctionName": permission["function"],
            "StatementId": "api-invoke",
            "Action": permission["action"],
            "Principal": permission["principal"],
            "SourceArn": permission["sourceArn"],
            "Qualifier": permission["qualifier"],
        },
    )


# --- B14: stage logs and limits ----------------------------------------------------------


def test_b14_stage_has_access_logs_and_throttling(stack: StackResult) -> None:
    """B14 [CKV_AWS_76; APIGateway.9]: JSON access logs to a retained group; throttling."""
    stage = only(stack, STAGE).inputs
    access = stage["accessLogSettings"]
    assert access["destinationArn"] == only(stack, LOG_GROUP, "api-access-logs").outputs["arn"]
    fields = json.loads(access["format"])
    assert fields["requestId"] == "$context.requestId"
    route_settings = stage["defaultRouteSettings"]
    assert route_settings["throttlingRateLimit"] == int(config(stack, "apiThrottleRate"))
    assert route_settings["throttlingBurstLimit"] == int(config(stack, "apiThrottleBurst"))
    assert_valid_request(
        "apigatewayv2",
        "CreateStage",
        {
            "ApiId": stage["apiId"],
            "StageName": stage["name"],
            "AutoDeploy": stage["autoDeploy"],
            "AccessLogSettings": {
                "DestinationArn": access["destinationArn"],
                "Format": access["format"],
            },
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": float(route_settings["throttlingRateLimit"]),
                "ThrottlingBurstLimit": int(route_settings["throttlingBurstLimit"]),
                "DetailedMetricsEnabled": route_settings["detailedMetricsEnabled"],
            },
        },
    )


# --- B13: log groups -------------------------------------------------------------------


def test_b13_function_and_access_logs_have_retention(stack: StackResult) -> None:
    """B13 [CKV_AWS_66/338]: both log groups keep logs for the configured days (P: ≥ 365)."""
    days = int(config(stack, "logRetentionDays"))
    assert days in LOG_RETENTION_DAYS
    if stack.stack == "prod":
        assert days >= 365
    for group in serverless(stack, LOG_GROUP):
        assert group.inputs["retentionInDays"] == days, group.name
    # The function writes to its retained group, not to an auto-created one.
    logging = only(stack, FUNCTION, "app-function").inputs["loggingConfig"]
    assert logging["logGroup"] == only(stack, LOG_GROUP, "function-logs").outputs["name"]


# --- A13: RDS Proxy --------------------------------------------------------------------


def test_a13_proxy_requires_tls_and_authenticates_with_its_secret(stack: StackResult) -> None:
    """A13: TLS required, Secrets Manager auth, private subnets, its own group."""
    proxy = only(stack, PROXY).inputs
    assert proxy["engineFamily"] == "POSTGRESQL"
    assert proxy["requireTls"] is True
    assert proxy["debugLogging"] is False
    (auth,) = proxy["auths"]
    assert auth["authScheme"] == "SECRETS"
    assert auth["secretArn"] == only(stack, SECRET).outputs["arn"]
    assert proxy["vpcSubnetIds"] == stack.outputs["privateSubnetIds"]
    assert proxy["vpcSecurityGroupIds"] == [group_id(stack, "proxy-sg")]
    assert proxy["roleArn"] == only(stack, ROLE, "proxy-role").outputs["arn"]
    assert_valid_request(
        "rds",
        "CreateDBProxy",
        {
            "DBProxyName": proxy["name"],
            "EngineFamily": proxy["engineFamily"],
            "Auth": [
                {
                    "AuthScheme": auth["authScheme"],
                    "SecretArn": auth["secretArn"],
                    "IAMAuth": auth["iamAuth"],
                    "ClientPasswordAuthType": auth["clientPasswordAuthType"],
                    "Description": auth["description"],
                }
            ],
            "RoleArn": proxy["roleArn"],
            "VpcSubnetIds": proxy["vpcSubnetIds"],
            "VpcSecurityGroupIds": proxy["vpcSecurityGroupIds"],
            "RequireTLS": proxy["requireTls"],
            "IdleClientTimeout": int(proxy["idleClientTimeout"]),
            "DebugLogging": proxy["debugLogging"],
        },
    )


def test_a13_proxy_secret_holds_the_app_user_and_the_database_password(
    stack: StackResult,
) -> None:
    """A13 / B7: {"username": "app", "password": <the RDS master password>}, sent as secret."""
    version = only(stack, SECRET_VERSION)
    assert version.inputs["secretId"] == only(stack, SECRET).id
    assert "secretString" in version.secret_inputs
    instance = stack.one(DB_INSTANCE)
    assert json.loads(version.inputs["secretString"]) == {
        "username": instance.inputs["username"],
        "password": instance.inputs["password"],
    }
    assert instance.inputs["username"] == "app"


def test_a13_proxy_targets_the_database_instance(stack: StackResult) -> None:
    """A13: the default target group points at the stack's DB instance, after it exists."""
    proxy = only(stack, PROXY)
    pool = only(stack, PROXY_POOL)
    target = only(stack, PROXY_TARGET)
    instance = stack.one(DB_INSTANCE)
    assert pool.inputs["dbProxyName"] == proxy.inputs["name"]
    assert target.inputs["dbProxyName"] == proxy.inputs["name"]
    assert target.inputs["targetGroupName"] == pool.outputs["name"]
    assert target.inputs["dbInstanceIdentifier"] == instance.outputs["identifier"]
    assert instance.urn in target.depends_on


def test_a13_function_connects_to_the_proxy_endpoint(stack: StackResult) -> None:
    """Issue item 4: DATABASE_URL names the proxy, not the instance, with TLS."""
    env = function_env(stack)
    endpoint = only(stack, PROXY).outputs["endpoint"]
    assert env["DATABASE_URL"] == f"postgresql+asyncpg://app@{endpoint}:5432/app?ssl=require"
    assert stack.outputs["databaseAddress"] not in env["DATABASE_URL"]


# --- B7: parameter names, never values ---------------------------------------------------


def test_b7_function_gets_parameter_names_never_values(stack: StackResult) -> None:
    """B7: *_SSM_PARAMETER names of this stack's parameters; no secret value anywhere."""
    env = function_env(stack)
    names = stack.outputs["ssmParameterNames"]
    assert {key: env[f"{key}_SSM_PARAMETER"] for key in names} == names
    assert set(names.values()) <= set(parameters(stack))
    assert not {"API_TOKEN", "DATABASE_PASSWORD", "REDIS_PASSWORD"} & set(env)
    dumped = json.dumps(only(stack, FUNCTION, "app-function").inputs, default=str)
    assert stack.secret_values
    for secret in stack.secret_values:
        assert secret not in dumped


def test_function_environment_follows_the_contract(stack: StackResult) -> None:
    """docs/contracts.md: ENVIRONMENT per stack, rediss URL, service settings from config."""
    env = function_env(stack)
    production = config(stack, "production") == "true"
    assert env["ENVIRONMENT"] == ("production" if production else "staging")
    assert env["REDIS_URL"] == f"rediss://{stack.outputs['cacheEndpoint']}:6379/0"
    assert env["LOG_LEVEL"] == config(stack, "logLevel")
    assert env["CACHE_TTL_SECONDS"] == str(config(stack, "cacheTtlSeconds"))
    assert env["CORS_ORIGINS"] == config(stack, "corsOrigins")


# --- B11: IAM --------------------------------------------------------------------------


def test_b11_roles_trust_exactly_their_service(stack: StackResult) -> None:
    """B11: the function role trusts lambda.amazonaws.com, the proxy role rds.amazonaws.com."""
    for suffix, principal in (("function-role", "lambda"), ("proxy-role", "rds")):
        trust = json.loads(only(stack, ROLE, suffix).inputs["assumeRolePolicy"])
        assert_valid_policy(trust, trust=True)
        assert [s["Principal"] for s in trust["Statement"]] == [
            {"Service": f"{principal}.amazonaws.com"}
        ]


def test_b11_function_reads_exactly_the_app_parameters(stack: StackResult) -> None:
    """A11/B11: basic execution + VPC access (managed), ssm:GetParameters on the 3 ARNs."""
    role = only(stack, ROLE, "function-role")
    managed = {
        a.inputs["policyArn"] for a in serverless(stack, ATTACHMENT)
        if a.inputs["role"] == role.outputs["name"]
    }  # fmt: skip
    assert managed == {ld.BASIC_EXECUTION_POLICY_ARN, ld.VPC_ACCESS_POLICY_ARN}
    inline = only(stack, ROLE_POLICY, "function-parameters")
    assert inline.inputs["role"] in (role.id, role.outputs["name"])
    document = json.loads(inline.inputs["policy"])
    assert_valid_policy(document)
    (statement,) = document["Statement"]
    assert statement["Action"] == ["ssm:GetParameters"]
    assert statement["Resource"] == sorted(p.outputs["arn"] for p in parameters(stack).values())
    assert len(statement["Resource"]) == 3


def test_b11_proxy_reads_exactly_its_secret(stack: StackResult) -> None:
    """A13/B11: the proxy role may read its credentials secret and nothing else."""
    role = only(stack, ROLE, "proxy-role")
    inline = only(stack, ROLE_POLICY, "proxy-secret")
    assert inline.inputs["role"] in (role.id, role.outputs["name"])
    document = json.loads(inline.inputs["policy"])
    assert_valid_policy(document)
    (statement,) = document["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == only(stack, SECRET).outputs["arn"]
    assert not [
        a for a in serverless(stack, ATTACHMENT) if a.inputs["role"] == role.outputs["name"]
    ]


def test_b11_no_wildcard_action_or_admin_policy_in_the_shape(stack: StackResult) -> None:
    """B11: no `*` or `service:*` action; no admin managed policy."""
    for record in serverless(stack, ROLE_POLICY):
        for statement in json.loads(record.inputs["policy"])["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                assert action != "*", record.name
                assert not action.endswith(":*"), record.name
    for attachment in serverless(stack, ATTACHMENT):
        assert "AdministratorAccess" not in attachment.inputs["policyArn"]
        assert "FullAccess" not in attachment.inputs["policyArn"]


# --- B2 / B3: security groups ----------------------------------------------------------


def rules_into(stack: StackResult, group: str) -> list[dict[str, Any]]:
    """Inputs of every ingress rule (anywhere in the stack) into security group ``group``."""
    return [r.inputs for r in stack.find(INGRESS) if r.inputs["securityGroupId"] == group]


def test_b2_groups_admit_only_other_groups_on_their_own_port(stack: StackResult) -> None:
    """B2 [AwsSolutions-RDS8]: function ← nothing; proxy ← function:5432;
    database ← proxy:5432; cache ← function:6379."""
    function_sg = group_id(stack, "function-sg")
    proxy_sg = group_id(stack, "proxy-sg")
    database_sg = group_id(stack, "database-sg")
    cache_sg = group_id(stack, "cache-sg")
    admitted = {
        group: [
            (r.get("referencedSecurityGroupId"), r["ipProtocol"], r["fromPort"], r["toPort"])
            for r in rules_into(stack, group)
        ]
        for group in (function_sg, proxy_sg, database_sg, cache_sg)
    }
    assert admitted == {
        function_sg: [],
        proxy_sg: [(function_sg, "tcp", 5432, 5432)],
        database_sg: [(proxy_sg, "tcp", 5432, 5432)],
        cache_sg: [(function_sg, "tcp", 6379, 6379)],
    }
    for rule in serverless(stack, INGRESS):
        assert "cidrIpv4" not in rule.inputs
        assert "cidrIpv6" not in rule.inputs


def test_b2_egress_goes_only_where_the_function_and_proxy_need(stack: StackResult) -> None:
    """B2: function → proxy:5432, cache:6379, HTTPS (SSM); proxy → database:5432."""
    function_sg = group_id(stack, "function-sg")
    proxy_sg = group_id(stack, "proxy-sg")
    egress = {
        (
            r.inputs["securityGroupId"],
            r.inputs.get("referencedSecurityGroupId") or r.inputs.get("cidrIpv4"),
            r.inputs["toPort"],
        )
        for r in serverless(stack, EGRESS)
    }
    assert egress == {
        (function_sg, proxy_sg, 5432),
        (function_sg, group_id(stack, "cache-sg"), 6379),
        (function_sg, "0.0.0.0/0", 443),
        (proxy_sg, group_id(stack, "database-sg"), 5432),
    }


def test_b3_every_group_and_rule_of_the_shape_is_described_and_separate(
    stack: StackResult,
) -> None:
    """B3 [CKV_AWS_23]: descriptions everywhere; rules are separate resources, never inline."""
    for group in serverless(stack, SECURITY_GROUP):
        assert group.inputs.get("description"), group.name
        assert not group.inputs.get("ingress")
        assert not group.inputs.get("egress")
        assert group.inputs["vpcId"] == stack.outputs["vpcId"]
    for rule in [*serverless(stack, INGRESS), *serverless(stack, EGRESS)]:
        assert rule.inputs.get("description"), rule.name
