"""Secrets from SSM parameter names, read once per cold start (moto stands in for SSM)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from service.config import ConfigError
from service.lambda_runtime import get_runtime, reset_runtime

from .conftest import Invoke, StartupSpy
from .events import FUNCTION_URL, HTTP_API, REST_API, http_event, result_json, result_text

PREFIX = "/fastapi-on-aws/dev"
API_TOKEN_PARAMETER = f"{PREFIX}/api-token"
SECRETS = {
    API_TOKEN_PARAMETER: "token-from-ssm-0123456789abcdef0123",
    f"{PREFIX}/database-password": "db-password-from-ssm",
    f"{PREFIX}/redis-password": "redis-auth-from-ssm-0123456789",
}
ITEM = {"name": "From SSM", "price": "2.50"}


class GetParametersCalls(list[dict[str, Any]]):
    """The parameters of every SSM GetParameters request made through boto3's default session."""

    def record(self, params: dict[str, Any], **_: Any) -> None:
        """botocore ``before-parameter-build`` hook."""
        self.append(dict(params))


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GetParametersCalls]:
    """A moto SSM with the stack's three SecureStrings, and the function's environment.

    The environment names the parameters, as the Lambda shape does; it holds no
    secret value. Every GetParameters call is recorded. SQLite takes no password,
    so DATABASE_PASSWORD_SSM_PARAMETER is only set by the PostgreSQL test.
    """
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("API_TOKEN")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("API_TOKEN_SSM_PARAMETER", API_TOKEN_PARAMETER)
    monkeypatch.setenv("REDIS_PASSWORD_SSM_PARAMETER", f"{PREFIX}/redis-password")
    # A default session of our own, so the hook sees the clients the service creates.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with mock_aws():
        boto3.setup_default_session(region_name="eu-west-1")
        calls = GetParametersCalls()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register(
            "before-parameter-build.ssm.GetParameters", calls.record
        )
        client = boto3.client("ssm", region_name="eu-west-1")
        for name, value in SECRETS.items():
            client.put_parameter(Name=name, Value=value, Type="SecureString")
        yield calls
        reset_runtime()


@pytest.mark.postgres
def test_secrets_are_fetched_once_per_cold_start(
    ssm: GetParametersCalls,
    throwaway_database: str,
    monkeypatch: pytest.MonkeyPatch,
    invoke: Invoke,
    startups: StartupSpy,
) -> None:
    monkeypatch.setenv("DATABASE_URL", throwaway_database)
    monkeypatch.setenv("DATABASE_PASSWORD_SSM_PARAMETER", f"{PREFIX}/database-password")
    assert invoke({"action": "migrate"})["status"] == "ok"
    token = {"Authorization": f"Bearer {SECRETS[API_TOKEN_PARAMETER]}"}
    created = invoke(http_event(HTTP_API, "POST", "/api/v1/items", body=ITEM, headers=token))
    assert created["statusCode"] == 201, result_text(created)
    listed = invoke(http_event(REST_API, "GET", "/api/v1/items"))
    assert result_json(listed)["total"] == 1

    # Three invocations, one decrypted GetParameters call for all three names.
    assert len(ssm) == 1
    assert ssm[0]["WithDecryption"] is True
    assert sorted(ssm[0]["Names"]) == sorted(SECRETS)
    assert startups.settings_loads == 1

    settings = get_runtime().settings
    assert settings.database_password is not None
    assert settings.database_password.get_secret_value() == SECRETS[f"{PREFIX}/database-password"]
    assert settings.redis_password is not None

    # A new execution environment fetches them again.
    reset_runtime()
    invoke(http_event(FUNCTION_URL, "GET", "/health"))
    assert len(ssm) == 2


def test_only_the_token_from_ssm_is_accepted(ssm: GetParametersCalls, invoke: Invoke) -> None:
    invoke({"action": "migrate"})
    for wrong in ("dev-token", "lambda-test-token-0123456789abcdef"):
        refused = invoke(
            http_event(
                HTTP_API,
                "POST",
                "/api/v1/items",
                body=ITEM,
                headers={"Authorization": f"Bearer {wrong}"},
            )
        )
        assert refused["statusCode"] == 401
    # ...and the one from SSM is: refusing every token would pass the loop above too.
    accepted = invoke(
        http_event(
            HTTP_API,
            "POST",
            "/api/v1/items",
            body=ITEM,
            headers={"Authorization": f"Bearer {SECRETS[API_TOKEN_PARAMETER]}"},
        )
    )
    assert accepted["statusCode"] == 201, accepted
    assert result_json(accepted)["name"] == ITEM["name"]


def test_a_missing_parameter_fails_clearly_and_is_retried(
    ssm: GetParametersCalls, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_PASSWORD_SSM_PARAMETER", f"{PREFIX}/no-such-parameter")
    with pytest.raises(ConfigError) as raised:
        invoke(http_event(HTTP_API, "GET", "/health"))
    message = str(raised.value)
    assert f"REDIS_PASSWORD_SSM_PARAMETER={PREFIX}/no-such-parameter" in message
    for value in SECRETS.values():
        assert value not in message

    # The failure is not cached: once the parameter exists the next invocation starts.
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name=f"{PREFIX}/no-such-parameter", Value="later", Type="SecureString"
    )
    assert invoke(http_event(HTTP_API, "GET", "/health"))["statusCode"] == 200
    assert len(ssm) == 2
