"""Identity: the Cognito pool for machine-to-machine JWTs, under mocks (INVARIANTS B21, C1).

``authMode: jwt`` + ``authCognito: true`` creates the pool, its resource
server, hosted domain, one client-credentials client and the client's
secret in SSM; the service gets the pool as AUTH_ISSUER and the client as
AUTH_AUDIENCE, as plain settings. Token mode (the default) creates nothing
and sets no AUTH_* variable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.identity import COMPONENT_TYPE
from infra.documents import identity
from tests.infra.harness import StackResult, build_stack

JWT: dict[str, Any] = {"authMode": "jwt", "authCognito": True}
EXTERNAL: dict[str, Any] = {
    "authMode": "jwt",
    "authIssuer": "https://login.example.com/",
    "authAudience": "api://items",
}
POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
SERVER = "aws:cognito/resourceServer:ResourceServer"
DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"
PARAMETER = "aws:ssm/parameter:Parameter"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"
VARIANTS = [(s, c) for s in ("dev", "prod") for c in ("fargate", "lambda")]


def service_environments(result: StackResult) -> list[dict[str, str]]:
    """The plain environment of every container and function of the stack."""
    environments = []
    for task in result.find(TASK):
        for container in json.loads(task.inputs["containerDefinitions"]):
            environments.append({e["name"]: e["value"] for e in container["environment"]})
    for function in result.find(FUNCTION):
        environments.append(dict(function.inputs["environment"]["variables"]))
    return environments


@pytest.mark.parametrize(("stack", "compute"), VARIANTS)
def test_b21_token_mode_creates_no_identity_and_sets_no_auth_variable(
    stack: str, compute: str
) -> None:
    result = build_stack(stack, compute=compute)
    assert not [r for r in result.resources if r.type.startswith("aws:cognito/")]
    assert not result.find(COMPONENT_TYPE)
    assert not [key for key in result.outputs if key.startswith("auth")]
    for environment in service_environments(result):
        assert not [name for name in environment if name.startswith("AUTH_")]


@pytest.mark.parametrize(("stack", "compute"), VARIANTS)
def test_b21_the_pool_admits_no_sign_up_and_issues_short_m2m_tokens(
    stack: str, compute: str
) -> None:
    result = build_stack(stack, compute=compute, **JWT)
    (component,) = result.find(COMPONENT_TYPE)
    children = [r for r in result.resources if r.parent == component.urn]
    assert {r.type for r in children} == {
        POOL,
        SERVER,
        DOMAIN,
        CLIENT,
        PARAMETER,
        "random:index/randomId:RandomId",
    }
    pool = result.one(POOL)
    assert pool.inputs["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert pool.inputs["mfaConfiguration"] == "OFF"
    assert pool.inputs["deletionProtection"] == ("ACTIVE" if stack == "prod" else "INACTIVE")
    server = result.one(SERVER)
    assert server.inputs["identifier"] == identity.RESOURCE_SERVER_IDENTIFIER
    assert [s["scopeName"] for s in server.inputs["scopes"]] == ["items:write"]
    client = result.one(CLIENT)
    assert client.inputs["generateSecret"] is True
    assert client.inputs["allowedOauthFlows"] == ["client_credentials"]
    assert client.inputs["allowedOauthFlowsUserPoolClient"] is True
    assert client.inputs["allowedOauthScopes"] == ["fastapi-on-aws/items:write"]
    assert client.inputs["accessTokenValidity"] == 60
    assert client.inputs["tokenValidityUnits"]["accessToken"] == "minutes"
    assert server.urn in client.depends_on
    domain = result.one(DOMAIN)
    for word in ("aws", "amazon", "cognito"):  # Cognito refuses them in a prefix
        assert word not in domain.inputs["domain"]
    # C2: explicitly named resources are deleted before a replacement.
    for record in (pool, server, client):
        assert record.delete_before_replace, record.name


@pytest.mark.parametrize(("stack", "compute"), VARIANTS)
def test_b21_the_client_secret_is_only_in_a_secure_string(stack: str, compute: str) -> None:
    """B7/B8: the secret is in its SSM SecureString, in no output and no environment."""
    result = build_stack(stack, compute=compute, **JWT)
    secret = str(result.one(CLIENT).outputs["clientSecret"])
    parameter = result.one(PARAMETER, "client-secret")
    assert parameter.inputs["name"] == f"/fastapi-on-aws/{stack}/{identity.CLIENT_SECRET_LEAF}"
    assert parameter.inputs["type"] == "SecureString"
    assert "value" in parameter.secret_inputs
    assert parameter.inputs["value"] == secret
    assert secret not in json.dumps(result.outputs, default=str)
    assert result.outputs["authClientSecretParameter"] == parameter.inputs["name"]
    for environment in service_environments(result):
        assert secret not in json.dumps(environment)
    # Only the stack's own parameter resource holds it.
    holders = [
        r.name for r in result.resources if r is not parameter and secret in json.dumps(r.inputs)
    ]
    assert holders == []


@pytest.mark.parametrize(("stack", "compute"), VARIANTS)
def test_b21_the_service_gets_the_pool_and_client_as_plain_settings(
    stack: str, compute: str
) -> None:
    result = build_stack(stack, compute=compute, **JWT)
    pool_id = result.one(POOL).id
    expected = {
        "AUTH_MODE": "jwt",
        "AUTH_ISSUER": f"https://cognito-idp.eu-west-1.amazonaws.com/{pool_id}",
        "AUTH_AUDIENCE": result.one(CLIENT).id,
        "AUTH_WRITE_SCOPE": "fastapi-on-aws/items:write",
    }
    environments = service_environments(result)
    assert environments
    for environment in environments:
        assert {k: v for k, v in environment.items() if k.startswith("AUTH_")} == expected
    for task in result.find(TASK):
        for container in json.loads(task.inputs["containerDefinitions"]):
            assert not [s for s in container.get("secrets", []) if s["name"].startswith("AUTH")]
    assert result.outputs["authClientId"] == result.one(CLIENT).id
    assert result.outputs["authTokenUrl"].endswith(".amazoncognito.com/oauth2/token")


def test_an_external_issuer_needs_no_aws_resource() -> None:
    result = build_stack("prod", compute="fargate", **EXTERNAL)
    assert not [r for r in result.resources if r.type.startswith("aws:cognito/")]
    (environment,) = service_environments(result)
    assert environment["AUTH_ISSUER"] == "https://login.example.com/"
    assert environment["AUTH_AUDIENCE"] == "api://items"
    assert environment["AUTH_WRITE_SCOPE"] == "items:write"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_c1_the_identity_keeps_its_urns_and_inputs_across_a_switch(stack: str) -> None:
    """C1: the pool is a shared layer: a compute switch changes nothing in it but tags."""
    fargate = build_stack(stack, compute="fargate", **JWT)
    serverless = build_stack(stack, compute="lambda", **JWT)

    def identity_records(result: StackResult) -> dict[str, Any]:
        (component,) = result.find(COMPONENT_TYPE)
        return {
            r.urn: {k: v for k, v in r.inputs.items() if k != "tags"}
            for r in result.resources
            if r is component or r.parent == component.urn
        }

    before, after = identity_records(fargate), identity_records(serverless)
    assert len(before) == 7
    assert before == after


def test_c2_logical_names_do_not_follow_the_auth_config() -> None:
    """C2: another write scope changes inputs, never a URN."""
    default = build_stack("dev", compute="fargate", **JWT)
    other = build_stack("dev", compute="fargate", **JWT, authWriteScope="catalogue.admin")
    assert {r.urn for r in default.resources} == {r.urn for r in other.resources}
    assert other.one(CLIENT).inputs["allowedOauthScopes"] == ["fastapi-on-aws/catalogue.admin"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_b21_the_services_jwt_settings_pass_its_strict_checks(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AUTH_* values the stack gives load into valid Settings (staging or production)."""
    from service.config import Settings, env_name

    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    (environment,) = service_environments(build_stack(stack, compute="fargate", **JWT))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.auth_mode == "jwt"
    assert settings.jwks_url == f"{environment['AUTH_ISSUER']}/.well-known/jwks.json"
    assert settings.auth_write_scope == "fastapi-on-aws/items:write"
