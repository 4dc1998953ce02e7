"""Service settings, read from the environment (and, for secrets, optionally SSM).

See docs/contracts.md for the variables and their defaults. Nothing here runs at
import time: :func:`load_settings` is called by the app factory and the CLI.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

Environment = Literal["development", "test", "staging", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
AuthMode = Literal["token", "jwt"]
# An OAuth scope (RFC 6749 section 3.3): printable ASCII but space, '"' and backslash.
SCOPE_PATTERN = r"^[\x21\x23-\x5b\x5d-\x7e]{1,256}$"

DEFAULT_API_TOKEN = "dev-token"  # noqa: S105 - the documented development-only default
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./app.db"
# Environments that may run with the development defaults (SQLite, dev-token).
RELAXED_ENVIRONMENTS: frozenset[str] = frozenset({"development", "test"})
# Per-client quotas per RATE_LIMIT_WINDOW_SECONDS (reads, writes, failed authentications),
# by ENVIRONMENT. The test suite's clients share one address, so its limits stay out of
# the way; tests of the limiter set their own.
RATE_LIMIT_DEFAULTS: dict[str, tuple[int, int, int]] = {
    "development": (1200, 300, 30),
    "test": (100_000, 100_000, 10_000),
    "staging": (600, 120, 10),
    "production": (600, 120, 10),
}
SECRET_FIELDS: frozenset[str] = frozenset(
    {"api_token", "database_password", "redis_password", "sentry_dsn"}
)

# Setting that holds an SSM parameter name -> setting that receives its value.
SSM_PARAMETER_TARGETS: dict[str, str] = {
    "api_token_ssm_parameter": "api_token",
    "database_password_ssm_parameter": "database_password",
    "redis_password_ssm_parameter": "redis_password",
    "sentry_dsn_ssm_parameter": "sentry_dsn",
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
    # Per-client rate limits (docs/contracts.md, "Rate limits"): requests per window,
    # per route class. Unset: the ENVIRONMENT's default from RATE_LIMIT_DEFAULTS.
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=3600)
    rate_limit_reads: int | None = Field(default=None, ge=1, le=100_000_000)
    rate_limit_writes: int | None = Field(default=None, ge=1, le=100_000_000)
    rate_limit_auth_failures: int | None = Field(default=None, ge=1, le=100_000_000)
    # Proxies in front of the service that append to X-Forwarded-For: 1 behind the
    # ALB, whose entry (the last) is the client address; 0 takes the socket peer
    # (on Lambda, the event's sourceIp). A client-written entry is never used.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
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
    # Error tracking (docs/operations.md): off unless set; on AWS read from SSM.
    sentry_dsn: SecretStr | None = None
    sentry_dsn_ssm_parameter: str | None = None
    # Set by the infrastructure: the image tag this process runs (the events' release).
    release: str = Field(default="", max_length=200, pattern=r"^[A-Za-z0-9._:@+/-]*$")
    # Who may write (docs/contracts.md, "Authentication"): the static API_TOKEN, or
    # JWTs from AUTH_ISSUER carrying AUTH_WRITE_SCOPE, verified against its JWKS.
    auth_mode: AuthMode = "token"
    auth_issuer: str | None = Field(default=None, max_length=512)
    auth_audience: str | None = Field(default=None, max_length=256)
    # One OAuth scope: what a token must carry to write.
    auth_write_scope: str = Field(default="items:write", pattern=SCOPE_PATTERN)
    auth_jwks_url: str | None = Field(default=None, max_length=512)
    auth_jwks_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    # At most one JWKS download per this many seconds, whatever unknown key ids arrive.
    auth_jwks_refresh_seconds: float = Field(default=30, gt=0, le=3600)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("environment", "auth_mode", mode="before")
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
        "sentry_dsn",
        "sentry_dsn_ssm_parameter",
        "auth_issuer",
        "auth_audience",
        "auth_jwks_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sentry_dsn")
    @classmethod
    def _check_sentry_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        # Shape only (never echoed: the message names the variable, not the value).
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname or not parts.username:
            raise ValueError("must be a Sentry DSN like https://<key>@<host>/<project id>")
        if not parts.path.rstrip("/").rpartition("/")[2].isdigit():
            raise ValueError("must end with the numeric project id: https://<key>@<host>/<id>")
        return SecretStr(value.get_secret_value().strip())

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
    def _default_rate_limits(self) -> Settings:
        reads, writes, failures = RATE_LIMIT_DEFAULTS[self.environment]
        self.rate_limit_reads = self.rate_limit_reads or reads
        self.rate_limit_writes = self.rate_limit_writes or writes
        self.rate_limit_auth_failures = self.rate_limit_auth_failures or failures
        return self

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
        problems.extend(self.auth_problems())
        if self.environment in RELAXED_ENVIRONMENTS:
            return problems
        problems.extend(self._token_problems())
        if self.is_sqlite:
            problems.append(
                f"DATABASE_URL must point at PostgreSQL when ENVIRONMENT={self.environment}; "
                "set DATABASE_URL=postgresql+asyncpg://user@host:5432/db"
            )
        return problems

    def _token_problems(self) -> list[str]:
        """The API_TOKEN rules of the strict environments (with AUTH_MODE=jwt it is unused)."""
        if self.auth_mode == "jwt":
            return []
        token = self.api_token.get_secret_value() if self.api_token else ""
        if not token.strip():
            return [
                f"API_TOKEN must be set when ENVIRONMENT={self.environment} "
                "(or name an SSM parameter in API_TOKEN_SSM_PARAMETER)"
            ]
        if token == DEFAULT_API_TOKEN:
            return [
                f"API_TOKEN must not be the development default when "
                f"ENVIRONMENT={self.environment}; set a random token of 32+ characters"
            ]
        return []

    def auth_problems(self) -> list[str]:
        """The AUTH_* rules: jwt mode names its issuer and audience; token mode sets neither.

        Plain ``http://`` issuer and JWKS URLs are accepted in development and
        test only (a loopback issuer in the tests); a deployed service fetches
        its signing keys over TLS.
        """
        if self.auth_mode == "token":
            return [
                f"{env_name(name)} is set but AUTH_MODE=token ignores it; "
                f"set AUTH_MODE=jwt or unset {env_name(name)}"
                for name in ("auth_issuer", "auth_audience", "auth_jwks_url")
                if getattr(self, name) is not None
            ]
        problems = [
            f"{env_name(name)} must be set when AUTH_MODE=jwt ({what})"
            for name, what in (
                (
                    "auth_issuer",
                    "the iss every token must carry, e.g. "
                    "https://cognito-idp.<region>.amazonaws.com/<pool-id>",
                ),
                ("auth_audience", "the aud or client_id every token must carry"),
            )
            if getattr(self, name) is None
        ]
        relaxed = self.environment in RELAXED_ENVIRONMENTS
        schemes = ("https://", "http://") if relaxed else ("https://",)
        for name in ("auth_issuer", "auth_jwks_url"):
            url = getattr(self, name)
            if url is not None and not (url.startswith(schemes) and len(url) > len("https://")):
                problems.append(
                    f"{env_name(name)} must be an https:// URL when ENVIRONMENT={self.environment}"
                )
        return problems

    @property
    def jwks_url(self) -> str:
        """Where the issuer's signing keys are: AUTH_JWKS_URL, else the issuer's well-known path.

        ``<issuer>/.well-known/jwks.json`` is where Amazon Cognito (and Auth0)
        publish them; other issuers name theirs in AUTH_JWKS_URL.
        """
        if self.auth_jwks_url:
            return self.auth_jwks_url
        return f"{(self.auth_issuer or '').rstrip('/')}/.well-known/jwks.json"

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
    sentry_dsn_ssm_parameter: str | None = None


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
