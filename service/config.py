"""Service settings, read from the environment (and, for secrets, optionally SSM).

See docs/contracts.md for the variables and their defaults. Nothing here runs at
import time: :func:`load_settings` is called by the app factory and the CLI.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

Environment = Literal["development", "test", "staging", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

DEFAULT_API_TOKEN = "dev-token"  # noqa: S105 - the documented development-only default
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./app.db"
# Environments that may run with the development defaults (SQLite, dev-token).
RELAXED_ENVIRONMENTS: frozenset[str] = frozenset({"development", "test"})
SECRET_FIELDS: frozenset[str] = frozenset({"api_token", "database_password", "redis_password"})

# Setting that holds an SSM parameter name -> setting that receives its value.
SSM_PARAMETER_TARGETS: dict[str, str] = {
    "api_token_ssm_parameter": "api_token",
    "database_password_ssm_parameter": "database_password",
    "redis_password_ssm_parameter": "redis_password",
}


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable and the fix."""


def env_name(field: str) -> str:
    """The environment variable that feeds a settings field."""
    return field.upper()


class Settings(BaseSettings):
    """Every knob of the service, validated once at start-up."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        env_file=None,
        hide_input_in_errors=True,
        validate_default=True,
    )

    environment: Environment = "development"
    database_url: str = DEFAULT_DATABASE_URL
    database_password: SecretStr | None = None
    # Connections one process keeps open (one uvicorn worker per Fargate task; see
    # docs/performance.md for sizes per task and for Lambda). Opened on demand, so an
    # idle or one-request-at-a-time process holds only what it used.
    database_pool_size: int = Field(default=15, ge=1, le=100)
    # Connections above the pool size are closed as soon as they are returned: under
    # steady load above the pool size that opens and closes connections all the time
    # (~40 per 10 s at 32 concurrent requests with 5 + 10), so none by default.
    database_max_overflow: int = Field(default=0, ge=0, le=100)
    redis_url: str | None = None
    redis_password: SecretStr | None = None
    # Socket timeouts for Redis: a dead or slow cache must not stall a request.
    cache_timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    cache_ttl_seconds: int = Field(default=60, ge=1, le=86_400)
    # Larger request bodies are refused with 413 before the app reads them.
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=104_857_600)
    readiness_timeout_seconds: float = Field(default=1.0, gt=0, le=1.0)
    api_token: SecretStr | None = None
    log_level: LogLevel = "INFO"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_token_ssm_parameter: str | None = None
    database_password_ssm_parameter: str | None = None
    redis_password_ssm_parameter: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    migrate_on_start: bool = True
    # How long a migration runner waits for another runner's PostgreSQL advisory
    # lock before giving up: a runner that hangs holding it must not hang every deploy.
    migration_lock_timeout_seconds: float = Field(default=300, gt=0, le=3600)
    # How long a migration runner keeps retrying its first connection. 0: fail at
    # once. The Lambda migrate function waits here for an RDS Proxy target that
    # is still registering on a stack's first deploy.
    migration_connect_timeout_seconds: float = Field(default=0, ge=0, le=3600)
    # Set by the infrastructure: the SSM versions of the secrets this process
    # read (never a value). Logged at start-up; a rotation changes it.
    config_revision: str = Field(default="", max_length=200)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("environment", mode="before")
    @classmethod
    def _lower_environment(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        # Comma-separated in the environment; a list when passed from Python.
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator(
        "redis_url",
        "api_token_ssm_parameter",
        "database_password_ssm_parameter",
        "redis_password_ssm_parameter",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _parse_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a SQLAlchemy URL; use e.g. postgresql+asyncpg://user@host:5432/db "
                "or sqlite+aiosqlite:///./app.db"
            ) from None
        if url.get_backend_name() not in {"postgresql", "sqlite"}:
            raise ValueError("must be a postgresql+asyncpg:// or sqlite+aiosqlite:// URL")
        if url.get_driver_name() not in {"asyncpg", "aiosqlite"}:
            raise ValueError(
                "needs an async driver: postgresql+asyncpg://... or sqlite+aiosqlite://..."
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        # Imported here: redis is only needed when a URL is set. Parsing now turns
        # e.g. a bad port into a settings error instead of a traceback at start-up.
        from redis.connection import parse_url

        try:
            parse_url(value)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        except ValueError as error:
            raise ValueError(
                f"is not a valid Redis URL ({error}); use e.g. rediss://host:6379/0"
            ) from None
        return value

    @model_validator(mode="after")
    def _refuse_development_defaults(self) -> Settings:
        if self.api_token is None and self.environment in RELAXED_ENVIRONMENTS:
            self.api_token = SecretStr(DEFAULT_API_TOKEN)
        problems = self.policy_problems()
        if problems:
            # One message, one problem per line: _error_lines splits it,
            # so an operator fixes them all in one go rather than one per deploy.
            raise ValueError("\n".join(problems))
        return self

    def policy_problems(self) -> list[str]:
        """Every cross-setting rule this configuration breaks, one line each."""
        problems: list[str] = []
        if self.database_password is not None and self.is_sqlite:
            problems.append(
                "DATABASE_PASSWORD is set but DATABASE_URL is SQLite, which takes no password; "
                "unset DATABASE_PASSWORD or set DATABASE_URL=postgresql+asyncpg://user@host:5432/db"
            )
        if self.environment in RELAXED_ENVIRONMENTS:
            return problems
        token = self.api_token.get_secret_value() if self.api_token else ""
        if not token.strip():
            problems.append(
                f"API_TOKEN must be set when ENVIRONMENT={self.environment} "
                "(or name an SSM parameter in API_TOKEN_SSM_PARAMETER)"
            )
        elif token == DEFAULT_API_TOKEN:
            problems.append(
                f"API_TOKEN must not be the development default when "
                f"ENVIRONMENT={self.environment}; set a random token of 32+ characters"
            )
        if self.is_sqlite:
            problems.append(
                f"DATABASE_URL must point at PostgreSQL when ENVIRONMENT={self.environment}; "
                "set DATABASE_URL=postgresql+asyncpg://user@host:5432/db"
            )
        return problems

    @property
    def is_sqlite(self) -> bool:
        """True when the database is a SQLite file (development and tests only)."""
        return make_url(self.database_url).get_backend_name() == "sqlite"

    @property
    def docs_enabled(self) -> bool:
        """Interactive docs and the OpenAPI document are hidden in production."""
        return self.environment != "production"

    def sqlalchemy_url(self) -> URL:
        """The database URL with DATABASE_PASSWORD injected (never log it unmasked)."""
        url = make_url(self.database_url)
        if self.database_password is not None:
            url = url.set(password=self.database_password.get_secret_value())
        return url


def _error_lines(error: ValidationError) -> list[str]:
    """One line per problem, each naming its environment variable; never a value."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        loc = [str(part) for part in item["loc"]]
        message = item["msg"].removeprefix("Value error, ")
        if loc:
            lines.append(f"{env_name(loc[0])}: {message}")
        else:
            # The cross-setting rules: several problems, one per line, each naming its variable.
            lines.extend(message.splitlines())
    return lines


def describe_validation_error(error: ValidationError, more: list[str] | None = None) -> str:
    """Turn pydantic's error into lines that name environment variables, never values.

    ``more`` adds lines found by another pass (see :func:`_cross_setting_problems`).
    """
    lines = _error_lines(error)
    lines.extend(line for line in more or () if line not in lines)
    return "invalid settings:\n  " + "\n  ".join(lines)


def _cross_setting_problems(error: ValidationError, values: dict[str, Any]) -> list[str]:
    """The cross-setting problems hidden behind field errors.

    Pydantic runs the model validator only once every field is valid, so
    ``ENVIRONMENT=production PORT=x`` reported the port alone, and the missing
    API_TOKEN only on the next attempt. Validating again with each invalid field
    at its default (init values win over the environment) surfaces the rest.
    Lines about an invalid variable are dropped: they would describe its
    stand-in default, not the value the operator set. An invalid ENVIRONMENT
    falls back to ``development``, where no rule applies.
    """
    invalid = {str(item["loc"][0]) for item in error.errors() if item["loc"]}
    defaults: dict[str, Any] = {}
    for name in invalid:
        field = Settings.model_fields.get(name)
        if field is None:
            return []
        defaults[name] = field.get_default(call_default_factory=True)
    try:
        Settings(**{**values, **defaults})
    except ValidationError as second:
        mentions = re.compile(r"\b(" + "|".join(env_name(name) for name in invalid) + r")\b")
        return [line for line in _error_lines(second) if not mentions.search(line)]
    return []


class _SsmNames(BaseSettings):
    """Just the SSM parameter names, read before the full settings are validated."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    api_token_ssm_parameter: str | None = None
    database_password_ssm_parameter: str | None = None
    redis_password_ssm_parameter: str | None = None


def load_settings(ssm_client: Any = None, **overrides: Any) -> Settings:
    """Read the settings from the environment, resolving secrets held in SSM.

    When any ``*_SSM_PARAMETER`` variable names a parameter, all of them are
    fetched with one ``GetParameters(WithDecryption=True)`` call and their
    values take precedence over the plain variables. Raises :class:`ConfigError`
    with a message that names each offending variable.
    """
    values: dict[str, Any] | None = None
    try:
        names = _SsmNames(**{k: v for k, v in overrides.items() if k in SSM_PARAMETER_TARGETS})
        wanted = {
            target: name.strip()
            for source, target in SSM_PARAMETER_TARGETS.items()
            if (name := getattr(names, source)) and name.strip()
        }
        secrets: dict[str, str] = {}
        if wanted:
            # Imported lazily: boto3 costs ~100 ms to import and most runs never need it.
            from service.ssm import fetch_parameters

            secrets = fetch_parameters(wanted, client=ssm_client)
        values = {**overrides, **secrets}
        return Settings(**values)
    except ValidationError as error:
        more = _cross_setting_problems(error, values) if values is not None else []
        raise ConfigError(describe_validation_error(error, more)) from None
