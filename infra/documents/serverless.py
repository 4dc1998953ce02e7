"""The Lambda shape as data: function settings, IAM documents, log formats, migration results.

Everything here is a pure function of plain values, so tests check the
documents (IAM grammar, botocore request models, the service's settings)
without the Pulumi runtime. ``infra.components.serverless`` feeds these
values to the provider once the Outputs they depend on are known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from infra.documents import iam, identity
from infra.documents import task_definition as td

# The image's CMD is the same, but setting it on the function keeps the
# handler a property of the infrastructure the tests can see (INVARIANT A11).
HANDLER_COMMAND: Final = ("lambda_handler.handler",)
# What the handler runs on a direct invocation (the migrate-on-deploy event).
MIGRATE_EVENT: Final[Mapping[str, str]] = {"action": "migrate"}
# The alias the HTTP API invokes; it only moves after the migrations ran.
ALIAS_NAME: Final = "live"

LAMBDA_PRINCIPAL: Final = "lambda.amazonaws.com"
API_GATEWAY_PRINCIPAL: Final = "apigateway.amazonaws.com"
RDS_PRINCIPAL: Final = "rds.amazonaws.com"
BASIC_EXECUTION_POLICY_ARN: Final = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)
# ENI management for a function in a VPC (INVARIANT A11); AWS checks the role
# holds it when the function is created.
VPC_ACCESS_POLICY_ARN: Final = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
)

# An HTTP API gives up on an integration after 30 s (its hard maximum), so the
# function must finish first (INVARIANT A11).
API_INTEGRATION_TIMEOUT_MS: Final = 30_000
MAX_FUNCTION_TIMEOUT_SECONDS: Final = API_INTEGRATION_TIMEOUT_MS // 1000 - 1
# The migrate function is never behind the API, so it may use Lambda's own
# maximum: on a stack's first deploy the RDS Proxy target can take minutes to
# become AVAILABLE, and the migration waits for it (docs/lambda.md).
MIGRATE_FUNCTION_TIMEOUT_SECONDS: Final = 900
# How long the migration retries its first connection: inside the timeout, with
# room left for the migration itself.
MIGRATE_CONNECT_TIMEOUT_SECONDS: Final = 600
# Logical-name suffix of the migrate function (policies tell the two apart by it).
MIGRATE_FUNCTION_SUFFIX: Final = "-migrate-function"
PAYLOAD_FORMAT_VERSION: Final = "2.0"
DEFAULT_ROUTE: Final = "$default"
DEFAULT_STAGE: Final = "$default"

# Secrets the service resolves from SSM by name on the Lambda shape
# (docs/contracts.md); the values themselves never enter the environment (B7).
SECRET_VARIABLES: Final = td.SECRET_VARIABLES
OPTIONAL_SECRET_VARIABLES: Final = td.OPTIONAL_SECRET_VARIABLES
SSM_NAME_SUFFIX: Final = "_SSM_PARAMETER"

# One access-log line per request, as JSON (INVARIANT B14). Only $context
# variables HTTP APIs define; requestId ties a line to the service's logs.
ACCESS_LOG_FIELDS: Final[Mapping[str, str]] = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.message",
}

_SSM_PARAMETER_NAME = re.compile(r"^/[A-Za-z0-9_.\-/]+$")
_SSM_PARAMETER_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[\w./-]+$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$")
_EXECUTE_API_ARN = re.compile(r"^arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+$")
_DB_INSTANCE_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:db:([a-z][a-z0-9-]*)$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


class MigrationFailedError(RuntimeError):
    """The migrate invocation did not report success: the alias must not move."""


def ssm_variable(secret_variable: str) -> str:
    """``API_TOKEN`` → ``API_TOKEN_SSM_PARAMETER`` (docs/contracts.md)."""
    return f"{secret_variable}{SSM_NAME_SUFFIX}"


def function_environment(
    *,
    production: bool,
    proxy_endpoint: str,
    redis_endpoint: str,
    log_level: str,
    cors_origins: Sequence[str],
    cache_ttl_seconds: int,
    parameter_names: Mapping[str, str],
    config_revision: str,
    cache_database: int = 0,
    release: str | None = None,
    auth: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The function's environment: the settings of docs/contracts.md, secrets by SSM name only.

    ``auth`` adds the AUTH_* settings of ``authMode: jwt`` (none in token mode).

    ``parameter_names`` maps each secret variable (``API_TOKEN`` …) to its SSM
    parameter *name*; the service fetches the values once per cold start.
    ``config_revision`` (the parameters' versions) changes the environment when
    a secret is rotated, so a new version is published and warm environments
    holding the old value stop serving once the alias moves.
    """
    for what, host in (("RDS Proxy endpoint", proxy_endpoint), ("Redis endpoint", redis_endpoint)):
        # An unresolved or empty endpoint would otherwise end up as "None" in a URL.
        if not isinstance(host, str) or not _HOSTNAME.match(host):
            raise ValueError(f"the {what} must be a host name, got {host!r}")
    missing = sorted(set(SECRET_VARIABLES) - set(parameter_names))
    unknown = sorted(set(parameter_names) - set(SECRET_VARIABLES + OPTIONAL_SECRET_VARIABLES))
    if missing or unknown:
        raise ValueError(
            f"parameter_names must name exactly {', '.join(SECRET_VARIABLES)} "
            f"(and optionally {', '.join(OPTIONAL_SECRET_VARIABLES)}); "
            f"missing {missing}, unknown {unknown}"
        )
    for variable, name in parameter_names.items():
        # A name, never a value or an ARN: the service calls GetParameters(Names=...).
        if not _SSM_PARAMETER_NAME.match(name):
            raise ValueError(
                f"{ssm_variable(variable)} must be an SSM parameter name like "
                f"/fastapi-on-aws/<stack>/<leaf>, got a value that is not one"
            )
    environment = {
        # Non-production stacks run "staging" (docs/contracts.md).
        "ENVIRONMENT": "production" if production else "staging",
        # The function reaches PostgreSQL through the RDS Proxy, with TLS.
        "DATABASE_URL": td.database_url(proxy_endpoint),
        "REDIS_URL": td.redis_url(redis_endpoint, cache_database),
        "LOG_LEVEL": log_level,
        "CORS_ORIGINS": ",".join(cors_origins),
        "CACHE_TTL_SECONDS": str(cache_ttl_seconds),
        "CONFIG_REVISION": config_revision,
        # Mangum puts the event's sourceIp in the ASGI client: the rate limiter keys
        # on it, not on X-Forwarded-For, which the caller can write.
        "TRUSTED_PROXY_HOPS": "0",
        # With error tracking on: the image tag, as the events' release.
        **td.release_environment(release),
        **identity.checked_environment(auth),
    }
    for variable in SECRET_VARIABLES + OPTIONAL_SECRET_VARIABLES:
        if variable in parameter_names:
            environment[ssm_variable(variable)] = parameter_names[variable]
    return environment


def lambda_trust_policy() -> iam.PolicyDocument:
    """Trust policy of the function's role: only Lambda may assume it (INVARIANT B11)."""
    return iam.assume_role_policy(LAMBDA_PRINCIPAL)


def proxy_trust_policy() -> iam.PolicyDocument:
    """Trust policy of the RDS Proxy's role: only RDS may assume it (INVARIANT B11)."""
    return iam.assume_role_policy(RDS_PRINCIPAL)


def function_policy(parameter_arns: Sequence[str]) -> iam.PolicyDocument:
    """The function's own grant: ``ssm:GetParameters`` on exactly the app's parameters.

    SecureStrings under the AWS-managed ``aws/ssm`` key need no KMS grant.
    """
    if not parameter_arns:
        raise ValueError("the function needs at least one SSM parameter ARN to read")
    for arn in parameter_arns:
        if not _SSM_PARAMETER_ARN.match(arn):
            raise ValueError(f"{arn!r} is not an SSM parameter ARN")
    return iam.policy(
        [iam.statement(["ssm:GetParameters"], sorted(set(parameter_arns)), sid="ReadAppSecrets")]
    )


def proxy_secret_policy(secret_arn: str) -> iam.PolicyDocument:
    """The proxy's grant: read exactly its credentials secret (aws/secretsmanager key)."""
    if not _SECRET_ARN.match(secret_arn):
        raise ValueError(f"{secret_arn!r} is not a Secrets Manager secret ARN")
    return iam.policy(
        [iam.statement(["secretsmanager:GetSecretValue"], [secret_arn], sid="ReadProxyCredentials")]
    )


def proxy_credentials(username: str, password: str) -> str:
    """The secret RDS Proxy authenticates with: ``{"username", "password"}`` as JSON."""
    if not username or not password:
        raise ValueError("the proxy credentials need a username and a password")
    return json.dumps({"username": username, "password": password}, sort_keys=True)


def access_log_format() -> str:
    """The stage's access-log format: one JSON object per request."""
    return json.dumps(dict(ACCESS_LOG_FIELDS), sort_keys=True, separators=(",", ":"))


def api_source_arn(execution_arn: str) -> str:
    """``source_arn`` of the invoke permission: any stage and route of this API only."""
    if not _EXECUTE_API_ARN.match(execution_arn):
        raise ValueError(f"{execution_arn!r} is not an HTTP API execution ARN")
    return f"{execution_arn}/*/*"


def db_instance_identifier(instance_arn: str) -> str:
    """The DB instance identifier from its ARN (``…:db:<identifier>``), for the proxy target."""
    match = _DB_INSTANCE_ARN.match(instance_arn)
    if match is None:
        raise ValueError(f"{instance_arn!r} is not an RDS DB instance ARN")
    return match.group(1)


def migrate_function_environment(serving: Mapping[str, str]) -> dict[str, str]:
    """The migrate function's environment: the serving one plus the connect wait."""
    return {
        **serving,
        "MIGRATION_CONNECT_TIMEOUT_SECONDS": str(MIGRATE_CONNECT_TIMEOUT_SECONDS),
    }


def migrate_event() -> str:
    """The direct-invocation payload that runs the migrations."""
    return json.dumps(dict(MIGRATE_EVENT), sort_keys=True)


def migrated_version(version: str, result: str | None) -> str:
    """``version`` once the migrate invocation's ``result`` reports success, else raise.

    The alias (what the API invokes) takes this value, so a failed migration
    stops the deploy before new code serves a request. A handler that raises
    already fails the invocation resource itself; this catches a handler that
    *returns* an error result. ``None`` means the engine reported no result at
    all (a mocked run): there is nothing to check.
    """
    if result is None:
        return version
    try:
        payload: Any = json.loads(result)
    except json.JSONDecodeError:
        raise MigrationFailedError(
            f"the migrate invocation of version {version} returned non-JSON {result[:200]!r}; "
            "the alias keeps serving the previous version"
        ) from None
    if not isinstance(payload, dict) or payload.get("status") != "ok":
        raise MigrationFailedError(
            f"the migrate invocation of version {version} did not succeed: {result[:500]}; "
            "the alias keeps serving the previous version"
        )
    if not isinstance(payload.get("revision"), str) or not payload["revision"]:
        raise MigrationFailedError(
            f"the migrate invocation of version {version} reported no revision: {result[:500]}"
        )
    return version
