"""Configuration of the bootstrap stack: read once, validated, typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from bootstrap.documents import parse_environment, parse_repository

STATE_BACKENDS = ("s3", "pulumi-cloud")
DEFAULT_ENVIRONMENTS = ("dev", "production")
# Every key this program reads (Pulumi.yaml declares the same list).
CONFIG_KEYS = (
    "githubRepository",
    "deployEnvironments",
    "previewRole",
    "stateBackend",
    "existingOidcProviderArn",
)


@dataclass(frozen=True)
class BootstrapConfig:
    """What one bootstrap stack (one AWS account) creates.

    ``github_repository``: the only repository whose workflows may assume the
    roles. ``deploy_environments``: one deploy role per GitHub environment
    (``environment: dev`` / ``environment: production`` in deploy.yml).
    ``preview_role``: the read-only role for pull-request previews.
    ``state_backend``: ``s3`` creates the state bucket and the secrets key;
    ``pulumi-cloud`` creates neither. ``existing_oidc_provider_arn``: reuse the
    account's GitHub OIDC provider instead of creating one (one per account).
    """

    github_repository: str
    deploy_environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    preview_role: bool = True
    state_backend: str = "s3"
    existing_oidc_provider_arn: str | None = None

    def __post_init__(self) -> None:
        parse_repository(self.github_repository)
        if not self.deploy_environments:
            raise ValueError("deployEnvironments must name at least one GitHub environment")
        for environment in self.deploy_environments:
            parse_environment(environment)
        if len(set(self.deploy_environments)) != len(self.deploy_environments):
            raise ValueError(f"deployEnvironments has duplicates: {list(self.deploy_environments)}")
        if self.state_backend not in STATE_BACKENDS:
            raise ValueError(
                f"stateBackend must be one of {', '.join(STATE_BACKENDS)}, "
                f"got {self.state_backend!r}"
            )
        arn = self.existing_oidc_provider_arn
        if arn is not None and not (
            arn.startswith("arn:aws")
            and arn.endswith(":oidc-provider/token.actions.githubusercontent.com")
        ):
            raise ValueError(
                "existingOidcProviderArn must be the ARN of the account's "
                f"token.actions.githubusercontent.com OIDC provider, got {arn!r}"
            )

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> BootstrapConfig:
        """Build from plain values keyed like the stack config (used by tests too)."""
        unknown = sorted(set(values) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; allowed: {', '.join(CONFIG_KEYS)}")
        if "githubRepository" not in values:
            raise ValueError(
                "githubRepository is required: pulumi config set githubRepository owner/name"
            )
        environments = values.get("deployEnvironments", DEFAULT_ENVIRONMENTS)
        if isinstance(environments, str) or not isinstance(environments, Sequence):
            raise ValueError(
                f"deployEnvironments must be a list of environment names, got {environments!r}"
            )
        preview = values.get("previewRole", True)
        if not isinstance(preview, bool):
            raise ValueError(f"previewRole must be true or false, got {preview!r}")
        return cls(
            github_repository=str(values["githubRepository"]),
            deploy_environments=tuple(str(e) for e in environments),
            preview_role=preview,
            state_backend=str(values.get("stateBackend", "s3")),
            existing_oidc_provider_arn=values.get("existingOidcProviderArn") or None,
        )

    @classmethod
    def load(cls) -> BootstrapConfig:
        """Read the stack configuration (project namespace) through ``pulumi.Config``."""
        config = pulumi.Config()
        values: dict[str, Any] = {}
        for key in CONFIG_KEYS:
            if key == "deployEnvironments":
                raw = config.get_object(key)
            elif key == "previewRole":
                raw = config.get_bool(key)
            else:
                raw = config.get(key)
            if raw is not None:
                values[key] = raw
        return cls.from_values(values)
