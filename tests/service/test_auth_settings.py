"""The AUTH_* settings: jwt mode names its issuer and audience, deployed ones over https."""

from __future__ import annotations

import pytest

from service.config import ConfigError, Settings, load_settings

PG_URL = "postgresql+asyncpg://app@db.internal:5432/app?ssl=require"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the service's variables leaks in from the machine."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def problems(**values: str) -> str:
    """The settings error message for ``values`` (upper-case names, as the environment has them)."""
    with pytest.raises(ConfigError) as error:
        load_settings(**{name.lower(): value for name, value in values.items()})
    return str(error.value)


def test_token_mode_is_the_default_with_items_write_as_the_scope() -> None:
    settings = load_settings()
    assert (settings.auth_mode, settings.auth_write_scope) == ("token", "items:write")
    assert (settings.auth_jwks_timeout_seconds, settings.auth_jwks_refresh_seconds) == (2.0, 30)


def test_jwt_mode_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_MODE", "JWT")
    monkeypatch.setenv("AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("AUTH_AUDIENCE", "client-123")
    monkeypatch.setenv("AUTH_WRITE_SCOPE", "fastapi-on-aws/items:write")
    settings = load_settings()
    assert settings.auth_mode == "jwt"
    assert settings.jwks_url == f"{ISSUER}/.well-known/jwks.json"
    assert settings.auth_write_scope == "fastapi-on-aws/items:write"
    monkeypatch.setenv("AUTH_JWKS_URL", "https://login.example/keys")
    assert load_settings().jwks_url == "https://login.example/keys"


def test_jwt_mode_needs_issuer_and_audience() -> None:
    message = problems(AUTH_MODE="jwt")
    assert "AUTH_ISSUER must be set when AUTH_MODE=jwt" in message
    assert "AUTH_AUDIENCE must be set when AUTH_MODE=jwt" in message


def test_token_mode_refuses_jwt_settings_it_would_ignore() -> None:
    message = problems(AUTH_ISSUER=ISSUER)
    assert "AUTH_ISSUER is set but AUTH_MODE=token ignores it" in message


def test_a_deployed_service_fetches_keys_over_tls_only() -> None:
    message = problems(
        ENVIRONMENT="staging",
        DATABASE_URL=PG_URL,
        AUTH_MODE="jwt",
        AUTH_ISSUER="http://issuer.example",
        AUTH_AUDIENCE="client-123",
        AUTH_JWKS_URL="ftp://issuer.example/keys",
    )
    assert "AUTH_ISSUER must be an https:// URL when ENVIRONMENT=staging" in message
    assert "AUTH_JWKS_URL must be an https:// URL when ENVIRONMENT=staging" in message
    # Development and test accept a loopback issuer over plain http.
    settings = load_settings(
        auth_mode="jwt", auth_issuer="http://127.0.0.1:8080", auth_audience="client-123"
    )
    assert settings.jwks_url == "http://127.0.0.1:8080/.well-known/jwks.json"


def test_jwt_mode_does_not_need_the_static_token_when_deployed() -> None:
    settings = load_settings(
        environment="production",
        database_url=PG_URL,
        auth_mode="jwt",
        auth_issuer=ISSUER,
        auth_audience="client-123",
    )
    assert settings.api_token is None
    # Token mode still does.
    assert "API_TOKEN must be set" in problems(ENVIRONMENT="production", DATABASE_URL=PG_URL)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH_MODE", "oauth"),
        ("AUTH_WRITE_SCOPE", "items write"),
        ("AUTH_WRITE_SCOPE", 'items"write'),
        ("AUTH_JWKS_TIMEOUT_SECONDS", "0"),
        ("AUTH_JWKS_TIMEOUT_SECONDS", "11"),
        ("AUTH_JWKS_REFRESH_SECONDS", "0"),
    ],
)
def test_malformed_values_name_their_variable(name: str, value: str) -> None:
    assert f"{name}:" in problems(**{name: value})
