"""The HTTP API in front of the ``live`` alias (INVARIANTS A12, B14), and its custom domain.

One catch-all route to one Lambda proxy integration: the service owns
routing, /docs included. The ``$default`` stage serves at the root, throttled,
with access logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.domain import AliasTarget
from infra.components.monitoring import ComputeOperations
from infra.components.serverless.release import Release
from infra.components.serverless.scope import Scope
from infra.components.serverless.settings import ServerlessSettings
from infra.documents import serverless as ld


@dataclass(frozen=True)
class HttpApi:
    """The API and its deployed stage."""

    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage


def create_http_api(
    scope: Scope,
    settings: ServerlessSettings,
    *,
    function: aws.lambda_.Function,
    release: Release,
    access_log_group: aws.cloudwatch.LogGroup,
) -> HttpApi:
    """The API, its permission to invoke the alias, the integration, the route and the stage."""
    api = aws.apigatewayv2.Api(
        f"{scope.name}-api",
        protocol_type="HTTP",
        description="fastapi-on-aws service (Lambda proxy integration)",
        tags=scope.tags,
        opts=scope.opts(),
    )
    permission = aws.lambda_.Permission(
        f"{scope.name}-api-invoke",
        action="lambda:InvokeFunction",
        function=function.name,
        qualifier=release.alias.name,
        principal=ld.API_GATEWAY_PRINCIPAL,
        source_arn=api.execution_arn.apply(ld.api_source_arn),
        opts=scope.opts(),
    )
    integration = aws.apigatewayv2.Integration(
        f"{scope.name}-integration",
        api_id=api.id,
        integration_type="AWS_PROXY",
        integration_method="POST",
        integration_uri=release.alias_arn,
        payload_format_version=ld.PAYLOAD_FORMAT_VERSION,
        timeout_milliseconds=ld.API_INTEGRATION_TIMEOUT_MS,
        description="Every request to the live alias of the function",
        opts=scope.opts(depends_on=[permission]),
    )
    route = aws.apigatewayv2.Route(
        f"{scope.name}-route",
        api_id=api.id,
        # One catch-all route: the service owns routing, /docs included.
        route_key=ld.DEFAULT_ROUTE,
        target=pulumi.Output.concat("integrations/", integration.id),
        opts=scope.opts(),
    )
    stage = _create_stage(scope, settings, api, route, access_log_group)
    return HttpApi(api=api, stage=stage)


def _create_stage(
    scope: Scope,
    settings: ServerlessSettings,
    api: aws.apigatewayv2.Api,
    route: aws.apigatewayv2.Route,
    access_log_group: aws.cloudwatch.LogGroup,
) -> aws.apigatewayv2.Stage:
    """The auto-deployed ``$default`` stage: access logs, throttling, metrics in production."""
    return aws.apigatewayv2.Stage(
        f"{scope.name}-stage",
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
        tags=scope.tags,
        opts=scope.opts(depends_on=[route]),
    )


def create_custom_domain(
    scope: Scope, operations: ComputeOperations, http_api: HttpApi
) -> AliasTarget | None:
    """API Gateway's regional domain name mapped to the stage; None without a custom domain."""
    if not operations.domain_name:
        return None
    if operations.certificate_arn is None:
        raise ValueError("a custom domain needs operations.certificate_arn")
    domain = aws.apigatewayv2.DomainName(
        f"{scope.name}-domain",
        domain_name=operations.domain_name,
        domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
            certificate_arn=operations.certificate_arn,
            endpoint_type="REGIONAL",
            security_policy="TLS_1_2",
        ),
        tags=scope.tags,
        # The domain is the resource's name: free it before a
        # replacement (INVARIANT C2).
        opts=scope.opts(delete_before_replace=True),
    )
    aws.apigatewayv2.ApiMapping(
        f"{scope.name}-domain-mapping",
        api_id=http_api.api.id,
        domain_name=domain.id,
        stage=http_api.stage.id,
        opts=scope.opts(),
    )
    configuration = domain.domain_name_configuration
    return AliasTarget(
        dns_name=configuration.apply(lambda c: c.target_domain_name or ""),
        zone_id=configuration.apply(lambda c: c.hosted_zone_id or ""),
    )
