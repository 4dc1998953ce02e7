"""Every settings problem is reported at once, one per line, each naming its variable.

Pydantic runs the cross-setting rules only once every field is valid, and the
rules stopped at the first broken one: under ENVIRONMENT=production an operator
learned about API_TOKEN, redeployed, then learned about DATABASE_URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN_LINE = (
    "API_TOKEN must be set when ENVIRONMENT=production "
    "(or name an SSM parameter in API_TOKEN_SSM_PARAMETER)"
)
DATABASE_LINE = (
    "DATABASE_URL must point at PostgreSQL when ENVIRONMENT=production; "
    "set DATABASE_URL=postgresql+asyncpg://user@host:5432/db"
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    """The lines of the ConfigError that ``env`` causes."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    header, *lines = str(raised.value).splitlines()
    assert header == "invalid settings:"
    assert all(line.startswith("  ") for line in lines)
    return [line.strip() for line in lines]


def test_production_defaults_report_the_token_and_the_database_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert problems(monkeypatch, ENVIRONMENT="production") == [TOKEN_LINE, DATABASE_LINE]


def test_field_errors_and_rule_errors_come_together(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = problems(monkeypatch, ENVIRONMENT="production", PORT="eighty", LOG_LEVEL="loud")
    assert lines[0].startswith("LOG_LEVEL: Input should be 'DEBUG', 'INFO'")
    assert lines[1].startswith("PORT: Input should be a valid integer")
    assert lines[2:] == [TOKEN_LINE, DATABASE_LINE]


def test_the_default_token_and_sqlite_with_a_password_are_all_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = problems(
        monkeypatch,
        ENVIRONMENT="staging",
        API_TOKEN="dev-token",
        DATABASE_PASSWORD="hunter2-secret",
        REDIS_URL="redis://cache:notaport/0",
    )
    assert [line.split(" ", 1)[0].rstrip(":") for line in lines] == [
        "REDIS_URL",
        "DATABASE_PASSWORD",
        "API_TOKEN",
        "DATABASE_URL",
    ]
    assert "hunter2" not in "\n".join(lines)


def test_an_invalid_environment_is_reported_with_the_other_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = problems(monkeypatch, ENVIRONMENT="prod", PORT="0")
    assert lines == [
        "ENVIRONMENT: Input should be 'development', 'test', 'staging' or 'production'",
        "PORT: Input should be greater than or equal to 1",
    ]


def test_the_cli_prints_every_problem_one_per_line() -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        cwd=ROOT,
        env={**env, "ENVIRONMENT": "production", "CACHE_TTL_SECONDS": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: invalid settings:",
        "  CACHE_TTL_SECONDS: Input should be greater than or equal to 1",
        f"  {TOKEN_LINE}",
        f"  {DATABASE_LINE}",
    ]


def test_rules_are_not_reported_against_the_stand_in_for_an_invalid_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DATABASE_URL is invalid, so the rules are checked with its SQLite default in its
    # place; "must point at PostgreSQL" would describe that default, not the value set.
    lines = problems(
        monkeypatch, ENVIRONMENT="production", DATABASE_URL="not a url", DATABASE_PASSWORD="pw"
    )
    assert lines[0].startswith("DATABASE_URL: is not a SQLAlchemy URL")
    assert lines[1:] == [TOKEN_LINE]
