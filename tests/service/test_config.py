"""Settings: defaults, refusal of development defaults outside development, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import ConfigError, Settings, load_settings
from service.main import create_app
from service.migrations.revision import head_revision

# The newest migration: what `migrate` brings a database to.
HEAD = head_revision()

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_VARIABLES = [name.upper() for name in Settings.model_fields]
PG_URL = "postgresql+asyncpg://app@db.internal:5432/app?ssl=require"
STRONG_TOKEN = "a-long-random-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment with none of the service's variables."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_development_defaults() -> None:
    settings = load_settings()
    assert settings.environment == "development"
    assert settings.database_url == "sqlite+aiosqlite:///./app.db"
    assert settings.redis_url is None
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "dev-token"
    assert (settings.host, settings.port, settings.migrate_on_start) == ("127.0.0.1", 8000, True)
    assert settings.cache_ttl_seconds == 60
    assert settings.cors_origins == []
    assert settings.docs_enabled


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "Staging")
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    monkeypatch.setenv("API_TOKEN", STRONG_TOKEN)
    monkeypatch.setenv("REDIS_URL", "rediss://cache.internal:6379/0")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example,")
    monkeypatch.setenv("CACHE_TTL_SECONDS", "5")
    monkeypatch.setenv("MIGRATE_ON_START", "false")
    monkeypatch.setenv("PORT", "9000")
    settings = load_settings()
    assert settings.environment == "staging"
    assert settings.log_level == "DEBUG"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert (settings.cache_ttl_seconds, settings.migrate_on_start, settings.port) == (
        5,
        False,
        9000,
    )
    assert settings.redis_url == "rediss://cache.internal:6379/0"


def test_database_password_is_injected_into_the_url_and_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    monkeypatch.setenv("DATABASE_PASSWORD", "p@ss/w:rd")
    settings = load_settings()
    url = settings.sqlalchemy_url()
    assert url.password == "p@ss/w:rd"
    assert (url.username, url.host, url.database, url.query) == (
        "app",
        "db.internal",
        "app",
        {"ssl": "require"},
    )
    assert "p@ss" not in repr(settings)
    assert "p@ss" not in str(url)


@pytest.mark.parametrize("environment", ["staging", "production"])
@pytest.mark.parametrize(
    ("env", "variable", "hint"),
    [
        ({"DATABASE_URL": PG_URL}, "API_TOKEN", "must be set"),
        ({"DATABASE_URL": PG_URL, "API_TOKEN": ""}, "API_TOKEN", "must be set"),
        ({"DATABASE_URL": PG_URL, "API_TOKEN": "   "}, "API_TOKEN", "must be set"),
        ({"DATABASE_URL": PG_URL, "API_TOKEN": "dev-token"}, "API_TOKEN", "development default"),
        ({"API_TOKEN": STRONG_TOKEN}, "DATABASE_URL", "PostgreSQL"),
    ],
)
def test_start_up_refused_outside_development_with_default_secrets(
    monkeypatch: pytest.MonkeyPatch,
    environment: str,
    env: dict[str, str],
    variable: str,
    hint: str,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        create_app()
    message = str(raised.value)
    assert f"{variable} must" in message
    assert hint in message
    assert f"ENVIRONMENT={environment}" in message


def test_production_starts_with_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    monkeypatch.setenv("API_TOKEN", STRONG_TOKEN)
    app = create_app()
    assert app.state.settings.environment == "production"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ENVIRONMENT", "prod", "ENVIRONMENT: Input should be 'development', 'test', 'staging'"),
        ("PORT", "eighty", "PORT: Input should be a valid integer"),
        ("PORT", "70000", "PORT: Input should be less than or equal to 65535"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: Input should be 'DEBUG'"),
        ("DATABASE_URL", "postgresql://u@h/db", "DATABASE_URL: needs an async driver"),
        ("DATABASE_URL", "mysql+aiomysql://u@h/db", "DATABASE_URL: must be a postgresql+asyncpg"),
        ("DATABASE_URL", "not a url", "DATABASE_URL: is not a SQLAlchemy URL"),
        ("REDIS_URL", "cache:6379", "REDIS_URL: must start with redis://"),
        ("CACHE_TTL_SECONDS", "0", "CACHE_TTL_SECONDS: Input should be greater than or equal to 1"),
        ("MIGRATE_ON_START", "perhaps", "MIGRATE_ON_START: Input should be a valid boolean"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert expected in str(raised.value)


def test_database_password_with_sqlite_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite takes no password: say which variable to unset instead of a URL parse error."""
    monkeypatch.setenv("DATABASE_PASSWORD", "s3cret-value")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "DATABASE_PASSWORD is set but DATABASE_URL is SQLite" in message
    assert "s3cret-value" not in message


def test_errors_never_echo_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("API_TOKEN", "dev-token")
    monkeypatch.setenv("DATABASE_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app:inline-secret@h/db")
    monkeypatch.setenv("PORT", "not-a-port-hunter2-secret")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "PORT" in message
    assert "hunter2" not in message
    assert "inline-secret" not in message


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_refuses_to_start_in_production_with_defaults() -> None:
    result = _cli("serve", ENVIRONMENT="production")
    assert result.returncode == 2
    assert "API_TOKEN must be set when ENVIRONMENT=production" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_migrate_applies_migrations(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    result = _cli("migrate", DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert result.returncode == 0, result.stderr
    assert f'"revision": "{HEAD}"' in result.stdout
    down = _cli("downgrade", DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert down.returncode == 0, down.stderr
    assert '"revision": "base"' in down.stdout
