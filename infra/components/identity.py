"""Identity: an Amazon Cognito user pool issuing machine-to-machine access tokens.

Created with ``authMode: jwt`` and ``authCognito: true``. The pool has no
users and no sign-up (administrators only, and none is created): its one app
client gets tokens with the OAuth client credentials grant, for the resource
server's write scope, from the pool's hosted domain. The service verifies
them (AUTH_ISSUER is the pool, AUTH_AUDIENCE the client's id, both plain
settings). The client's generated secret is stored only in an SSM
SecureString for the callers to read; it is never an output (INVARIANTS B7, B8).

Compute-independent like the data layers: its logical names depend on
nothing in the config, so a compute switch keeps its URNs (INVARIANT C1) and
callers keep their credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.components import physical_name, type_token
from infra.documents import identity

COMPONENT_TYPE = type_token("identity", "Identity")
# Cognito refuses "aws", "amazon" and "cognito" in a domain prefix, and the
# prefix is global to the region: a fixed word, the stack, a random suffix.
DOMAIN_WORD = "items-auth"


@dataclass(frozen=True)
class IdentityArgs:
    """Inputs of the Identity component."""

    stack: str
    region: str
    ssm_prefix: str
    write_scope: str
    """The scope name on the resource server (``authWriteScope``)."""
    production: bool = False
    """Deletion protection on the pool: a replaced pool invalidates every caller's client."""


class Identity(pulumi.ComponentResource):
    """User pool, resource server, hosted domain, M2M app client and its secret in SSM."""

    issuer: pulumi.Output[str]
    client_id: pulumi.Output[str]
    token_url: pulumi.Output[str]
    client_secret_parameter_name: str
    client_secret_parameter_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the pool and its children; only names, ids and ARNs leave the component."""
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool = aws.cognito.UserPool(
            f"{name}-pool",
            name=physical_name(args.stack, "m2m"),
            # No self-service sign-up: nobody can create an identity in this pool.
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
                allow_admin_create_user_only=True
            ),
            # MFA and threat protection guard user sign-in; client credentials
            # involve no user (docs/policies.md, identity).
            mfa_configuration="OFF",
            deletion_protection="ACTIVE" if args.production else "INACTIVE",
            # Explicit names: a replacement deletes first (INVARIANT C2).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        scope_name = args.write_scope
        server = aws.cognito.ResourceServer(
            f"{name}-resource-server",
            user_pool_id=pool.id,
            identifier=identity.RESOURCE_SERVER_IDENTIFIER,
            name="items API",
            scopes=[
                aws.cognito.ResourceServerScopeArgs(
                    scope_name=scope_name, scope_description="Create, change and delete items"
                )
            ],
            # The identifier is unique in the pool: a replacement must delete first (C2).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        suffix = random.RandomId(f"{name}-domain-suffix", byte_length=4, opts=child)
        domain = aws.cognito.UserPoolDomain(
            f"{name}-domain",
            user_pool_id=pool.id,
            domain=suffix.hex.apply(lambda hex_: f"{DOMAIN_WORD}-{args.stack.lower()}-{hex_}"),
            opts=child,
        )
        client = aws.cognito.UserPoolClient(
            f"{name}-m2m-client",
            name=physical_name(args.stack, "m2m-client"),
            user_pool_id=pool.id,
            generate_secret=True,
            allowed_oauth_flows=["client_credentials"],
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_scopes=[f"{identity.RESOURCE_SERVER_IDENTIFIER}/{scope_name}"],
            supported_identity_providers=["COGNITO"],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            access_token_validity=identity.ACCESS_TOKEN_VALIDITY_MINUTES,
            id_token_validity=identity.ACCESS_TOKEN_VALIDITY_MINUTES,
            # Units of the validities, not tokens.
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes",  # noqa: S106
                id_token="minutes",  # noqa: S106
                refresh_token="days",  # noqa: S106
            ),
            enable_token_revocation=True,
            prevent_user_existence_errors="ENABLED",
            # The scope must exist on the resource server before a client may ask for it.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[server], delete_before_replace=True
            ),
        )
        self.client_secret_parameter_name = f"{args.ssm_prefix}/{identity.CLIENT_SECRET_LEAF}"
        # The provider marks it secret already; wrapping again keeps it so whatever it reports.
        client_secret: pulumi.Output[str] = pulumi.Output.secret(client.client_secret)
        parameter = aws.ssm.Parameter(
            f"{name}-client-secret",
            name=self.client_secret_parameter_name,
            type="SecureString",
            value=client_secret,
            description="The M2M app client's secret (client credentials grant)",
            # An explicit name cannot exist twice (INVARIANT C2).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.issuer = pool.id.apply(lambda pool_id: identity.cognito_issuer(args.region, pool_id))
        self.client_id = client.id
        self.token_url = domain.domain.apply(
            lambda prefix: f"https://{prefix}.auth.{args.region}.amazoncognito.com/oauth2/token"
        )
        self.client_secret_parameter_arn = parameter.arn
        self.register_outputs(
            {
                "issuer": self.issuer,
                "clientId": self.client_id,
                "tokenUrl": self.token_url,
                "clientSecretParameterName": self.client_secret_parameter_name,
            }
        )


def auth_environment(
    auth: identity.AuthConfig, component: Identity | None
) -> pulumi.Output[dict[str, str]] | None:
    """The service's AUTH_* settings: from the pool, from the external issuer, or none."""
    if not auth.jwt:
        return None
    if component is None:
        return pulumi.Output.from_input(
            identity.service_environment(auth, auth.issuer, auth.audience)
        )
    return pulumi.Output.all(component.issuer, component.client_id).apply(
        lambda values: identity.service_environment(auth, values[0], values[1])
    )
