"""No deployed compute runs the service in a relaxed ENVIRONMENT (``development``/``test``).

Those modes accept the default API token and SQLite (service.config), and
ENVIRONMENT defaults to ``development`` when it is unset. So every container
and function the program deploys, on every stack and compute shape, must set
ENVIRONMENT explicitly to ``staging`` or ``production`` (docs/contracts.md,
"Environments"), and its settings must pass the service's own strict checks.
"""

from __future__ import annotations

import json
from typing import Any

from service.config import RELAXED_ENVIRONMENTS, Settings
from tests.infra.harness import StackResult

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"
STRONG_TOKEN = "infra-test-token-0123456789abcdef0123"


def compute_environments(stack: StackResult) -> dict[str, dict[str, str]]:
    """Every container's and function's environment variables, by resource name."""
    environments: dict[str, dict[str, str]] = {}
    for record in stack.find(TASK_DEFINITION):
        for definition in json.loads(record.inputs["containerDefinitions"]):
            variables = {e["name"]: e["value"] for e in definition.get("environment", [])}
            environments[f"{record.name}/{definition['name']}"] = variables
    for record in stack.find(FUNCTION):
        environment: dict[str, Any] = record.inputs.get("environment") or {}
        environments[record.name] = dict(environment.get("variables") or {})
    return environments


def test_every_deployed_compute_runs_staging_or_production(variant: StackResult) -> None:
    environments = compute_environments(variant)
    assert environments, "no task definition or function found: the resource types changed"
    production = variant.config.get("fastapi-on-aws:production") in (True, "true")
    expected = "production" if production else "staging"
    for name, variables in environments.items():
        assert "ENVIRONMENT" in variables, f"{name} leaves ENVIRONMENT unset (development)"
        assert variables["ENVIRONMENT"] not in RELAXED_ENVIRONMENTS, name
        assert variables["ENVIRONMENT"] == expected, name


def test_deployed_settings_pass_the_strict_checks(variant: StackResult) -> None:
    """The service would start on them: PostgreSQL, no development defaults accepted."""
    for name, variables in compute_environments(variant).items():
        values = {key.lower(): value for key, value in variables.items()}
        settings = Settings(**{**values, "api_token": STRONG_TOKEN})
        assert not settings.is_sqlite, name
        assert settings.environment not in RELAXED_ENVIRONMENTS, name
