"""The ``ServerlessService`` component: its construction in named steps, and ``build_serverless``.

Each step lives in its own module of this package and creates its resources
as children of the component; ``__init__`` only orders the steps and hands
each one what the earlier ones made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from infra.components import type_token
from infra.components.domain import AliasTarget
from infra.components.identity import auth_environment
from infra.components.monitoring import AlarmSet, ComputeOperations, ComputeResult, create_alarms
from infra.components.serverless.api import create_custom_domain, create_http_api
from infra.components.serverless.function import (
    FunctionBase,
    create_function_role,
    create_serving_function,
    serving_environment,
)
from infra.components.serverless.proxy import create_proxy
from infra.components.serverless.release import create_release
from infra.components.serverless.scope import Scope
from infra.components.serverless.security import create_security_groups
from infra.components.serverless.settings import ServerlessServiceArgs, ServerlessSettings
from infra.components.shared import SharedLayers
from infra.config import StackConfig
from infra.documents import observability as obs

COMPONENT_TYPE: Final = type_token("serverless", "ServerlessService")


@dataclass(frozen=True)
class LogGroups:
    """The function's log group and the API's access log group."""

    function: aws.cloudwatch.LogGroup
    access: aws.cloudwatch.LogGroup


def create_log_groups(scope: Scope, settings: ServerlessSettings) -> LogGroups:
    """Both log groups, with the stack's retention (INVARIANT B13)."""
    function = aws.cloudwatch.LogGroup(
        f"{scope.name}-function-logs",
        retention_in_days=settings.log_retention_days,
        tags=scope.tags,
        opts=scope.opts(),
    )
    access = aws.cloudwatch.LogGroup(
        f"{scope.name}-api-access-logs",
        retention_in_days=settings.log_retention_days,
        tags=scope.tags,
        opts=scope.opts(),
    )
    return LogGroups(function=function, access=access)


def _create_alarms(
    scope: Scope,
    args: ServerlessServiceArgs,
    function: aws.lambda_.Function,
    api: aws.apigatewayv2.Api,
) -> AlarmSet:
    """The function's and the API's alarms, to the alarm topic."""
    # The alias moves at once: see docs/operations.md for the gap.
    return create_alarms(
        scope.name,
        obs.lambda_alarms(
            args.operations.thresholds,
            function=function.name,
            api=api.id,
            timeout_seconds=args.settings.timeout_seconds,
        ),
        stack=args.settings.stack,
        topic_arn=args.operations.alarm_topic_arn,
        parent=scope.component,
    )


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
        """Create the shape's resources as children of this component, step by step."""
        super().__init__(COMPONENT_TYPE, name, None, opts)
        settings = args.settings
        scope = Scope(name=name, component=self, tags=dict(settings.tags))

        logs = create_log_groups(scope, settings)
        groups = create_security_groups(scope, args)
        database_proxy = create_proxy(scope, args, groups.proxy)
        role = create_function_role(scope, args)
        base = FunctionBase.of(
            args, role, security_group_id=groups.function.id, log_group_name=logs.function.name
        )
        environment = serving_environment(args, database_proxy.proxy.endpoint)
        function = create_serving_function(scope, base, args, environment)
        release = create_release(
            scope,
            base,
            image=args.image,
            serving=function,
            serving_environment=environment,
            # The handler reads SSM and reaches PostgreSQL through the proxy.
            migration_needs=[role.parameters_policy, database_proxy.target, *groups.rules],
        )
        http_api = create_http_api(
            scope, settings, function=function, release=release, access_log_group=logs.access
        )
        self.alias_target = create_custom_domain(scope, args.operations, http_api)
        self.alarms = _create_alarms(scope, args, function, http_api.api)
        # Outputs: no secret among them (INVARIANT B7). The URL waits for the
        # stage to be deployed; `$default` has no path prefix.
        self.url = pulumi.Output.all(http_api.api.api_endpoint, http_api.stage.id).apply(
            lambda values: values[0]
        )
        self.function_name = function.name
        self.alias_name = release.alias.name
        self.log_group_name = logs.function.name
        self.access_log_group_name = logs.access.name
        self.proxy_endpoint = database_proxy.proxy.endpoint
        self.function_security_group_id = groups.function.id
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
            database_target_moves=shared.database.has_restore,
            auth_environment=auth_environment(cfg.auth, shared.identity),
            release=shared.registry.image_tag if shared.secrets.error_tracking else None,
        ),
    )
    exports: dict[str, pulumi.Output[Any]] = {
        "url": service.url,
        "function_name": service.function_name,
        "log_group_name": service.log_group_name,
    }
    return ComputeResult(exports=exports, alarms=service.alarms, alias_target=service.alias_target)
