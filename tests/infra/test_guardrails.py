"""Guardrails as precise as the tests: the invariants a broken setting slipped past.

Each test names its invariant and runs the policy pack's own check on all four
stacks and on the setting broken one way, so the pack and the suite agree.
"""

from __future__ import annotations

import json

import pytest

from service.config import Settings
from tests.infra.conftest import VARIANTS, BuildStack

REDIS_URL_PREFIX = "rediss://"


def _service_environments(stack: object) -> list[dict[str, str]]:
    """The environment every container and function of a stack gives the service."""
    found: list[dict[str, str]] = []
    for task in stack.find("aws:ecs/taskDefinition:TaskDefinition"):  # type: ignore[attr-defined]
        for container in json.loads(task.inputs["containerDefinitions"]):
            found.append({item["name"]: item["value"] for item in container["environment"]})
    for function in stack.find("aws:lambda/function:Function"):  # type: ignore[attr-defined]
        found.append(dict(function.inputs["environment"]["variables"]))
    return found


@pytest.mark.parametrize(("stack", "compute"), VARIANTS, ids=[f"{s}-{c}" for s, c in VARIANTS])
def test_b10_the_service_is_given_a_rediss_url(
    build_stack: BuildStack, stack: str, compute: str
) -> None:
    """B10: every container and function reaches Redis over TLS, and the service keeps it.

    The URL is the cache's primary endpoint on 6379 with ``rediss://``; the
    service's Settings accept it unchanged (it would refuse a malformed one).
    """
    built = build_stack(stack, compute=compute)
    environments = _service_environments(built)
    assert environments, "no container or function found"
    endpoint = built.outputs["cacheEndpoint"]
    for environment in environments:
        url = environment["REDIS_URL"]
        assert url == f"{REDIS_URL_PREFIX}{endpoint}:6379/0", url
        settings = Settings(environment="test", redis_url=url, api_token="t" * 40, _env_file=None)  # type: ignore[call-arg]
        assert settings.redis_url is not None
        assert settings.redis_url.startswith(REDIS_URL_PREFIX)
