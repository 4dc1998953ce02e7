"""Secrets from SSM Parameter Store: one decrypted GetParameters call at start-up (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from service.config import ConfigError, Settings, load_settings
from service.main import create_app

PREFIX = "/fastapi-on-aws/dev"
SECRETS = {
    f"{PREFIX}/api-token": "token-from-ssm-0123456789abcdef",
    f"{PREFIX}/database-password": "db-pass-from-ssm",
    f"{PREFIX}/redis-password": "redis-auth-from-ssm-0123456789",
}


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto SSM holding the three SecureString parameters the infra creates."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-west-1")
        for name, value in SECRETS.items():
            client.put_parameter(Name=name, Value=value, Type="SecureString")
        yield client


@pytest.fixture
def lambda_env(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the Lambda shape gets: parameter names, never values."""
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@proxy.internal:5432/app")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.internal:6379/0")
    monkeypatch.setenv("API_TOKEN_SSM_PARAMETER", f"{PREFIX}/api-token")
    monkeypatch.setenv("DATABASE_PASSWORD_SSM_PARAMETER", f"{PREFIX}/database-password")
    monkeypatch.setenv("REDIS_PASSWORD_SSM_PARAMETER", f"{PREFIX}/redis-password")


class CallRecorder(list[tuple[str, dict[str, Any]]]):
    """Every SSM API call a client makes, as (operation, params)."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        # botocore keeps handlers by weak reference: the recorder itself is the handler,
        # so it lives exactly as long as the test holds it.
        client.meta.events.register("before-parameter-build.ssm", self.record)

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.append((model.name, params))


def _record_calls(client: Any) -> CallRecorder:
    return CallRecorder(client)


@pytest.mark.usefixtures("lambda_env")
def test_secrets_are_fetched_with_one_decrypted_get_parameters_call(ssm: Any) -> None:
    calls = _record_calls(ssm)
    settings = load_settings(ssm_client=ssm)

    assert len(calls) == 1
    operation, params = calls[0]
    assert operation == "GetParameters"
    assert params["WithDecryption"] is True
    assert sorted(params["Names"]) == sorted(SECRETS)

    assert settings.api_token is not None
    assert settings.database_password is not None
    assert settings.api_token.get_secret_value() == SECRETS[f"{PREFIX}/api-token"]
    assert settings.sqlalchemy_url().password == SECRETS[f"{PREFIX}/database-password"]
    assert settings.redis_password is not None
    assert settings.redis_password.get_secret_value() == SECRETS[f"{PREFIX}/redis-password"]
    assert "db-pass-from-ssm" not in repr(settings)


@pytest.mark.usefixtures("lambda_env", "ssm")
def test_app_factory_loads_ssm_secrets_with_the_default_client() -> None:
    app = create_app()
    assert app.state.settings.api_token.get_secret_value() == SECRETS[f"{PREFIX}/api-token"]


@pytest.mark.usefixtures("lambda_env")
def test_ssm_values_take_precedence_over_plain_variables(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "plain-env-token-0123456789abcdef")
    settings = load_settings(ssm_client=ssm)
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == SECRETS[f"{PREFIX}/api-token"]


@pytest.mark.usefixtures("lambda_env")
def test_only_the_named_parameters_are_fetched(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_PASSWORD_SSM_PARAMETER")
    monkeypatch.delenv("DATABASE_PASSWORD_SSM_PARAMETER")
    calls = _record_calls(ssm)
    settings = load_settings(ssm_client=ssm)
    assert calls[0][1]["Names"] == [f"{PREFIX}/api-token"]
    assert settings.redis_password is None
    assert settings.database_password is None


@pytest.mark.usefixtures("lambda_env")
def test_missing_parameter_names_the_variable(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PASSWORD_SSM_PARAMETER", f"{PREFIX}/nope")
    with pytest.raises(ConfigError) as raised:
        load_settings(ssm_client=ssm)
    assert str(raised.value) == (
        f"SSM parameter(s) not found: REDIS_PASSWORD_SSM_PARAMETER={PREFIX}/nope"
    )


@pytest.mark.usefixtures("lambda_env")
def test_aws_errors_become_config_errors_without_values(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deny(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
            "GetParameters",
        )

    monkeypatch.setattr(ssm, "get_parameters", deny)
    with pytest.raises(ConfigError) as raised:
        load_settings(ssm_client=ssm)
    message = str(raised.value)
    assert "API_TOKEN_SSM_PARAMETER" in message
    assert "AccessDeniedException" in message


def test_no_ssm_call_without_parameter_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)

    class Exploding:
        def get_parameters(self, **_: Any) -> None:
            raise AssertionError("SSM must not be called")

    assert load_settings(ssm_client=Exploding()).environment == "development"
