"""The Lambda compute shape: the service image as a Lambda function behind an HTTP API.

One ComponentResource holds everything the shape adds on top of the shared
layers: the function (the Dockerfile's ``lambda`` target, pinned by digest) with
its role, log group and security group; the RDS Proxy between the function and
PostgreSQL with its credentials secret and role; the migrate-on-deploy
invocation and the ``live`` alias; the HTTP API with its ``$default`` route
and stage; and the security-group rules that let the function reach the proxy
and the cache and the proxy reach the database. Switching a stack to
``compute: fargate`` deletes exactly this component; the data layers keep
their URNs (INVARIANT C1).

Deploy order, so new code never serves a request before its migrations ran:
the serving function and the migrate function (same image, longer timeout)
publish new versions → the migrate event is invoked on the migrate function's
version (again whenever the image or the serving version changes) → only then
does the ``live`` alias, which the API invokes, move to the new serving version.

The documents (environment, IAM policies, log format) come from the pure
functions in ``infra.documents.serverless``; this module only wires Outputs to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from infra.components import physical_name, type_token
from infra.components.domain import AliasTarget
from infra.components.monitoring import AlarmSet, ComputeOperations, ComputeResult, create_alarms
from infra.components.shared import SharedLayers
from infra.config import StackConfig
from infra.documents import iam
from infra.documents import observability as obs
from infra.documents import serverless as ld

COMPONENT_TYPE: Final = type_token("serverless", "ServerlessService")

HTTPS_PORT: Final = 443
POSTGRES_PORT: Final = 5432
REDIS_PORT: Final = 6379
WORLD_IPV4: Final = "0.0.0.0/0"
DATABASE_USER: Final = "app"
# Connection pool of the proxy: leave a tenth of max_connections to operators,
# and give up borrowing a connection well before the function would time out.
PROXY_MAX_CONNECTIONS_PERCENT: Final = 90
PROXY_MAX_IDLE_CONNECTIONS_PERCENT: Final = 50
PROXY_BORROW_TIMEOUT_SECONDS: Final = 10
PROXY_IDLE_CLIENT_TIMEOUT_SECONDS: Final = 1800


@dataclass(frozen=True)
class ServerlessSettings:
    """The stack settings the Lambda shape reads, taken from ``StackConfig``."""

    stack: str
    production: bool
    cpu_architecture: str
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    throttle_rate: int
    throttle_burst: int
    log_retention_days: int
    log_level: str
    cors_origins: tuple[str, ...]
    cache_ttl_seconds: int
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse values Lambda or the HTTP API would reject or time out on."""
        if self.cpu_architecture not in ("x86_64", "arm64"):
            raise ValueError(
                f"config key 'cpuArchitecture' is {self.cpu_architecture!r}: allowed x86_64, arm64"
            )
        if not 1 <= self.timeout_seconds <= ld.MAX_FUNCTION_TIMEOUT_SECONDS:
            raise ValueError(
                f"config key 'lambdaTimeoutSeconds' is {self.timeout_seconds}: allowed 1 to "
                f"{ld.MAX_FUNCTION_TIMEOUT_SECONDS}, under the HTTP API's "
                f"{ld.API_INTEGRATION_TIMEOUT_MS // 1000} s integration limit"
            )
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(
                f"config key 'lambdaMemoryMb' is {self.memory_mb}: allowed 128 to 10240"
            )
        if self.reserved_concurrency != -1 and self.reserved_concurrency < 1:
            raise ValueError(
                f"config key 'lambdaReservedConcurrency' is {self.reserved_concurrency}: "
                "allowed -1 (unreserved) or a positive integer"
            )

    @classmethod
    def from_config(cls, cfg: StackConfig) -> ServerlessSettings:
        """Pick the Lambda keys out of the validated stack configuration."""
        return cls(
            stack=cfg.stack,
            production=cfg.production,
            cpu_architecture=cfg.lambda_architecture,
            memory_mb=cfg.lambda_memory_mb,
            timeout_seconds=cfg.lambda_timeout_seconds,
            reserved_concurrency=cfg.lambda_reserved_concurrency,
            throttle_rate=cfg.api_throttle_rate,
            throttle_burst=cfg.api_throttle_burst,
            log_retention_days=cfg.log_retention_days,
            log_level=cfg.log_level,
            cors_origins=cfg.cors_origins,
            cache_ttl_seconds=cfg.cache_ttl_seconds,
            tags=cfg.tags,
        )


@dataclass(frozen=True)
class ServerlessServiceArgs:
    """What the Lambda shape needs from the shared layers, plus its settings."""

    settings: ServerlessSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    image: pulumi.Input[str]
    """Image reference pinned by digest (``repo@sha256:…``) of the ``lambda`` target."""
    secret_parameter_names: Mapping[str, str]
    """Environment variable name → SSM SecureString parameter name."""
    secret_parameter_arns: Mapping[str, pulumi.Input[str]]
    """Environment variable name → SSM SecureString parameter ARN."""
    database_password: pulumi.Input[str]
    """The database password (a secret Output): only the proxy's credentials secret holds it."""
    database_instance_arn: pulumi.Input[str]
    database_security_group_id: pulumi.Input[str]
    cache_endpoint: pulumi.Input[str]
    cache_security_group_id: pulumi.Input[str]
    operations: ComputeOperations
    """Alarm topic and thresholds; the custom domain and its certificate, if any."""
    config_revision: pulumi.Input[str] = "1"
    """The secrets' SSM versions (``CONFIG_REVISION``): a rotation publishes a new version."""


class ServerlessService(pulumi.ComponentResource):
    """The service on Lambda behind an HTTP API, with an RDS Proxy and migrations on deploy."""

    url: pulumi.Output[str]
    function_name: pulumi.Output[str]
    alias_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    access_log_group_name: pulumi.Output[str]
    proxy_endpoint: pulumi.Output[str]
    function_security_group_id: pulumi.Output[str]
    alarms: AlarmSet
    alias_target: AliasTarget | None

    def __init__(
        self,
        name: str,
        args: ServerlessServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the shape's resources as children of this component."""
        super().__init__(COMPONENT_TYPE, name, None, opts)
        settings = args.settings
        tags = dict(settings.tags)
        child = pulumi.ResourceOptions(parent=self)

        # --- logs (retention on every group, INVARIANT B13) -----------------------------
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-function-logs",
            retention_in_days=settings.log_retention_days,
            tags=tags,
            opts=child,
        )
        access_log_group = aws.cloudwatch.LogGroup(
            f"{name}-api-access-logs",
            retention_in_days=settings.log_retention_days,
            tags=tags,
            opts=child,
        )

        # --- security groups (separate rule resources only, INVARIANT B3) ---------------
        function_sg = aws.ec2.SecurityGroup(
            f"{name}-function-sg",
            description="Lambda function: no ingress; out to the proxy, Redis and AWS APIs",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        )
        proxy_sg = aws.ec2.SecurityGroup(
            f"{name}-proxy-sg",
            description="RDS Proxy: PostgreSQL from the Lambda function only",
            vpc_id=args.vpc_id,
            tags=tags,
            opts=child,
        )
        # The function is invoked through the Lambda API, never over the
        # network, so its group admits nothing (INVARIANT B2).
        egress = (
            ("function-out-https", function_sg.id, HTTPS_PORT, None,
             "Lambda function to AWS APIs (SSM) over HTTPS"),
            ("function-out-proxy", function_sg.id, POSTGRES_PORT, proxy_sg.id,
             "Lambda function to the RDS Proxy on 5432"),
            ("function-out-cache", function_sg.id, REDIS_PORT, args.cache_security_group_id,
             "Lambda function to Redis on 6379"),
            ("proxy-out-db", proxy_sg.id, POSTGRES_PORT, args.database_security_group_id,
             "RDS Proxy to PostgreSQL on 5432"),
        )  # fmt: skip
        # Ingress into the data layers lives here, not there, so a compute
        # switch replaces these rules and never the database or cache
        # (docs/contracts.md).
        ingress = (
            ("proxy-in-function", proxy_sg.id, POSTGRES_PORT, function_sg.id,
             "Lambda function to the RDS Proxy on 5432"),
            ("db-in-proxy", args.database_security_group_id, POSTGRES_PORT, proxy_sg.id,
             "RDS Proxy to PostgreSQL on 5432"),
            ("cache-in-function", args.cache_security_group_id, REDIS_PORT, function_sg.id,
             "Lambda function to Redis on 6379"),
        )  # fmt: skip
        egress_rules = [
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{suffix}",
                description=description,
                security_group_id=group,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=peer,
                cidr_ipv4=WORLD_IPV4 if peer is None else None,
                tags=tags,
                opts=child,
            )
            for suffix, group, port, peer, description in egress
        ]
        ingress_rules = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{suffix}",
                description=description,
                security_group_id=group,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=peer,
                tags=tags,
                opts=child,
            )
            for suffix, group, port, peer, description in ingress
        ]

        # --- RDS Proxy: TLS required, Secrets Manager auth (INVARIANT A13) ---------------
        credentials = aws.secretsmanager.Secret(
            f"{name}-proxy-credentials",
            description="PostgreSQL credentials the RDS Proxy signs in with (copy of the SSM one)",
            # The source of truth is the generated password in SSM; a deleted
            # copy needs no recovery window in dev.
            recovery_window_in_days=7 if settings.production else 0,
            tags=tags,
            opts=child,
        )
        password: pulumi.Output[str] = pulumi.Output.from_input(args.database_password)
        credentials_json: pulumi.Output[str] = pulumi.Output.secret(
            password.apply(lambda value: ld.proxy_credentials(DATABASE_USER, value))
        )
        credentials_version = aws.secretsmanager.SecretVersion(
            f"{name}-proxy-credentials-value",
            secret_id=credentials.id,
            secret_string=credentials_json,
            opts=child,
        )
        proxy_role = aws.iam.Role(
            f"{name}-proxy-role",
            description="RDS Proxy: read its PostgreSQL credentials secret",
            assume_role_policy=iam.to_json(ld.proxy_trust_policy()),
            tags=tags,
            opts=child,
        )
        proxy_role_policy = aws.iam.RolePolicy(
            f"{name}-proxy-secret",
            role=proxy_role.id,
            policy=credentials.arn.apply(lambda arn: iam.to_json(ld.proxy_secret_policy(arn))),
            opts=child,
        )
        proxy = aws.rds.Proxy(
            f"{name}-proxy",
            # RDS requires a name; it is fixed per stack, so a replacement
            # must free it first (INVARIANT C2).
            name=physical_name(settings.stack, "proxy", max_length=60),
            engine_family="POSTGRESQL",
            require_tls=True,
            debug_logging=False,
            idle_client_timeout=PROXY_IDLE_CLIENT_TIMEOUT_SECONDS,
            role_arn=proxy_role.arn,
            vpc_subnet_ids=args.private_subnet_ids,
            vpc_security_group_ids=[proxy_sg.id],
            auths=[
                aws.rds.ProxyAuthArgs(
                    auth_scheme="SECRETS",
                    secret_arn=credentials.arn,
                    iam_auth="DISABLED",
                    client_password_auth_type="POSTGRES_SCRAM_SHA_256",  # noqa: S106 (a scheme)
                    description="The app user, from Secrets Manager",
                )
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                depends_on=[proxy_role_policy, credentials_version],
            ),
        )
        target_group = aws.rds.ProxyDefaultTargetGroup(
            f"{name}-proxy-pool",
            db_proxy_name=proxy.name,
            connection_pool_config=aws.rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs(
                max_connections_percent=PROXY_MAX_CONNECTIONS_PERCENT,
                max_idle_connections_percent=PROXY_MAX_IDLE_CONNECTIONS_PERCENT,
                connection_borrow_timeout=PROXY_BORROW_TIMEOUT_SECONDS,
            ),
            opts=child,
        )
        proxy_target = aws.rds.ProxyTarget(
            f"{name}-proxy-target",
            db_proxy_name=proxy.name,
            target_group_name=target_group.name,
            # Derived from the instance's ARN so the target waits for the instance.
            db_instance_identifier=pulumi.Output.from_input(args.database_instance_arn).apply(
                ld.db_instance_identifier
            ),
            opts=child,
        )

        # --- the function's role (INVARIANTS A11, B11) ------------------------------------
        role = aws.iam.Role(
            f"{name}-function-role",
            description="Lambda function: logs, VPC networking, read the app's SSM parameters",
            assume_role_policy=iam.to_json(ld.lambda_trust_policy()),
            tags=tags,
            opts=child,
        )
        managed = [
            aws.iam.RolePolicyAttachment(
                f"{name}-function-{suffix}",
                role=role.name,
                policy_arn=policy_arn,
                opts=child,
            )
            for suffix, policy_arn in (
                ("basic-execution", ld.BASIC_EXECUTION_POLICY_ARN),
                ("vpc-access", ld.VPC_ACCESS_POLICY_ARN),
            )
        ]
        parameters_policy = aws.iam.RolePolicy(
            f"{name}-function-parameters",
            role=role.id,
            policy=pulumi.Output.all(*args.secret_parameter_arns.values()).apply(
                lambda arns: iam.to_json(ld.function_policy(arns))
            ),
            opts=child,
        )

        # --- the function: the same image, target `lambda`, pinned by digest ------------
        parameter_names = dict(args.secret_parameter_names)
        environment = pulumi.Output.all(
            proxy.endpoint, args.cache_endpoint, args.config_revision
        ).apply(
            lambda values: ld.function_environment(
                production=settings.production,
                proxy_endpoint=values[0],
                redis_endpoint=values[1],
                log_level=settings.log_level,
                cors_origins=settings.cors_origins,
                cache_ttl_seconds=settings.cache_ttl_seconds,
                parameter_names=parameter_names,
                config_revision=values[2],
            )
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            description="fastapi-on-aws service (Mangum behind an HTTP API)",
            package_type="Image",
            image_uri=args.image,
            image_config=aws.lambda_.FunctionImageConfigArgs(commands=list(ld.HANDLER_COMMAND)),
            architectures=[settings.cpu_architecture],
            memory_size=settings.memory_mb,
            timeout=settings.timeout_seconds,
            # -1 is the provider's "no reservation".
            reserved_concurrent_executions=settings.reserved_concurrency,
            role=role.arn,
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                security_group_ids=[function_sg.id],
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=log_group.name
            ),
            # Every change publishes an immutable version: the alias moves to
            # it only after the migrations ran against it.
            publish=True,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Lambda checks the VPC permissions when it creates the function.
                depends_on=managed,
            ),
        )

        # --- migrations on deploy, then the alias ---------------------------------------
        # A function of its own, from the same image: the serving function's
        # timeout is capped under the API's 30 s, but on a first deploy the proxy
        # target may take minutes to become AVAILABLE. This one waits for the
        # database (MIGRATION_CONNECT_TIMEOUT_SECONDS) within Lambda's 15 minutes,
        # and one concurrent execution is all a migration ever needs.
        migrate_function = aws.lambda_.Function(
            f"{name}{ld.MIGRATE_FUNCTION_SUFFIX}",
            description="fastapi-on-aws migrations, invoked once per deploy before the alias moves",
            package_type="Image",
            image_uri=args.image,
            image_config=aws.lambda_.FunctionImageConfigArgs(commands=list(ld.HANDLER_COMMAND)),
            architectures=[settings.cpu_architecture],
            memory_size=settings.memory_mb,
            timeout=ld.MIGRATE_FUNCTION_TIMEOUT_SECONDS,
            reserved_concurrent_executions=1,
            role=role.arn,
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                security_group_ids=[function_sg.id],
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=environment.apply(ld.migrate_function_environment)
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=log_group.name
            ),
            publish=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=managed),
        )
        migration = aws.lambda_.Invocation(
            f"{name}-migrate",
            function_name=migrate_function.name,
            qualifier=migrate_function.version,
            input=ld.migrate_event(),
            # Invoke on create/replace only: the CRUD scope would add a `tf`
            # key to the event, which the handler refuses.
            lifecycle_scope="CREATE_ONLY",
            # Runs again for every new image and every new serving version.
            triggers={"image": args.image, "function_version": function.version},
            opts=pulumi.ResourceOptions(
                parent=self,
                # The handler reads SSM and reaches PostgreSQL through the proxy.
                depends_on=[parameters_policy, proxy_target, *ingress_rules, *egress_rules],
                # Deleting a create-only invocation does nothing, so freeing it
                # first costs nothing and keeps the C2 rule uniform.
                delete_before_replace=True,
            ),
        )
        alias = aws.lambda_.Alias(
            f"{name}-alias",
            name=ld.ALIAS_NAME,
            description="The version the HTTP API serves: moved only after its migrations ran",
            function_name=function.name,
            function_version=pulumi.Output.all(function.version, migration.result).apply(
                lambda values: ld.migrated_version(values[0], values[1])
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[migration],
                # An explicit name (unique per function): free it before a
                # replacement (INVARIANT C2).
                delete_before_replace=True,
            ),
        )
        # The alias ARN is the function ARN qualified by the alias name.
        alias_arn = pulumi.Output.concat(function.arn, ":", alias.name)

        # --- HTTP API (INVARIANTS A12, B14) -----------------------------------------------
        api = aws.apigatewayv2.Api(
            f"{name}-api",
            protocol_type="HTTP",
            description="fastapi-on-aws service (Lambda proxy integration)",
            tags=tags,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-api-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            qualifier=alias.name,
            principal=ld.API_GATEWAY_PRINCIPAL,
            source_arn=api.execution_arn.apply(ld.api_source_arn),
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=alias_arn,
            payload_format_version=ld.PAYLOAD_FORMAT_VERSION,
            timeout_milliseconds=ld.API_INTEGRATION_TIMEOUT_MS,
            description="Every request to the live alias of the function",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        route = aws.apigatewayv2.Route(
            f"{name}-route",
            api_id=api.id,
            # One catch-all route: the service owns routing, /docs included.
            route_key=ld.DEFAULT_ROUTE,
            target=pulumi.Output.concat("integrations/", integration.id),
            opts=child,
        )
        stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            # `$default` serves at the root: no stage prefix in any path.
            name=ld.DEFAULT_STAGE,
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_log_group.arn,
                format=ld.access_log_format(),
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=float(settings.throttle_rate),
                throttling_burst_limit=settings.throttle_burst,
                detailed_metrics_enabled=settings.production,
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[route]),
        )

        # --- custom domain: API Gateway's regional domain name, mapped to the stage -----
        operations = args.operations
        self.alias_target = None
        if operations.domain_name:
            if operations.certificate_arn is None:
                raise ValueError("a custom domain needs operations.certificate_arn")
            domain = aws.apigatewayv2.DomainName(
                f"{name}-domain",
                domain_name=operations.domain_name,
                domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
                    certificate_arn=operations.certificate_arn,
                    endpoint_type="REGIONAL",
                    security_policy="TLS_1_2",
                ),
                tags=tags,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # The domain is the resource's name: free it before a
                    # replacement (INVARIANT C2).
                    delete_before_replace=True,
                ),
            )
            aws.apigatewayv2.ApiMapping(
                f"{name}-domain-mapping",
                api_id=api.id,
                domain_name=domain.id,
                stage=stage.id,
                opts=child,
            )
            configuration = domain.domain_name_configuration
            self.alias_target = AliasTarget(
                dns_name=configuration.apply(lambda c: c.target_domain_name or ""),
                zone_id=configuration.apply(lambda c: c.hosted_zone_id or ""),
            )

        # --- alarms (the alias moves at once: see docs/operations.md for the gap) -------
        self.alarms = create_alarms(
            name,
            obs.lambda_alarms(
                operations.thresholds,
                function=function.name,
                api=api.id,
                timeout_seconds=settings.timeout_seconds,
            ),
            stack=settings.stack,
            topic_arn=operations.alarm_topic_arn,
            parent=self,
        )

        # --- outputs (no secret among them, INVARIANT B7) ----------------------------------
        # The stage's URL once it is deployed; `$default` has no path prefix.
        self.url = pulumi.Output.all(api.api_endpoint, stage.id).apply(lambda values: values[0])
        self.function_name = function.name
        self.alias_name = alias.name
        self.log_group_name = log_group.name
        self.access_log_group_name = access_log_group.name
        self.proxy_endpoint = proxy.endpoint
        self.function_security_group_id = function_sg.id
        self.register_outputs(
            {
                "url": self.url,
                "function_name": self.function_name,
                "alias_name": self.alias_name,
                "log_group_name": self.log_group_name,
                "access_log_group_name": self.access_log_group_name,
                "proxy_endpoint": self.proxy_endpoint,
                "function_security_group_id": self.function_security_group_id,
            }
        )


def build_serverless(
    cfg: StackConfig, shared: SharedLayers, operations: ComputeOperations
) -> ComputeResult:
    """The Lambda shape on top of the shared layers: its exports, alarms and endpoint."""
    service = ServerlessService(
        "app",
        ServerlessServiceArgs(
            settings=ServerlessSettings.from_config(cfg),
            vpc_id=shared.network.vpc_id,
            private_subnet_ids=shared.network.private_subnet_ids,
            image=shared.registry.image_ref,
            secret_parameter_names=shared.secrets.parameter_names,
            secret_parameter_arns=shared.secrets.parameter_arns,
            database_password=shared.secrets.database_password,
            database_instance_arn=shared.database.instance_arn,
            database_security_group_id=shared.database.security_group_id,
            cache_endpoint=shared.cache.primary_endpoint,
            cache_security_group_id=shared.cache.security_group_id,
            operations=operations,
            config_revision=shared.secrets.config_revision,
        ),
    )
    exports: dict[str, pulumi.Output[Any]] = {
        "url": service.url,
        "function_name": service.function_name,
        "log_group_name": service.log_group_name,
    }
    return ComputeResult(exports=exports, alarms=service.alarms, alias_target=service.alias_target)
