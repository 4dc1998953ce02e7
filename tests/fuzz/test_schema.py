"""Schemathesis against the app's own OpenAPI schema: every operation, with and without the token.

Checks: no 5xx, and every response (status, content type, body) is what the
schema documents for it, the error envelope included.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.main import create_app
from service.migrations.runner import upgrade
from tests.fuzz.conftest import AUTH, fuzz_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 30
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The service on a migrated SQLite file, with a few items to find."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schema') / 'schema.db'}"
    upgrade(fuzz_settings(url))
    return create_app(fuzz_settings(url))


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    """The OpenAPI schema the app serves, loaded by schemathesis (which runs the lifespan)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    for n in range(1, 4):  # ids 1..3 exist, so GET/PATCH/DELETE also reach the 2xx paths
        operation = schema["/api/v1/items"]["POST"]
        case = operation.Case(body={"name": f"seed {n}", "price": "1.00"})
        assert case.call(headers=AUTH).status_code == 201
    return schema


OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/api/v1/items"),
    ("POST", "/api/v1/items"),
    ("GET", "/api/v1/items/{item_id}"),
    ("PATCH", "/api/v1/items/{item_id}"),
    ("DELETE", "/api/v1/items/{item_id}"),
]
WRITES = {"POST", "PATCH", "DELETE"}


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    operations = {
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    }
    assert operations == set(OPERATIONS)


# Driven through each operation's hypothesis strategy rather than schemathesis'
# pytest plugin (``from_fixture``), whose lazy loading breaks on pytest 9.
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_with_the_token(api_schema: Any, method: str, path: str) -> None:
    @FUZZ
    @given(case=api_schema[path][method].as_strategy())
    def check(case: Any) -> None:
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    check()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_without_the_token(api_schema: Any, method: str, path: str) -> None:
    @FUZZ
    @given(case=api_schema[path][method].as_strategy())
    def check(case: Any) -> None:
        if case.headers:
            case.headers.pop("Authorization", None)
        response = case.call_and_validate(checks=CHECKS)
        if method in WRITES:
            # No write gets past the token check; 413/422 may be decided before it.
            assert response.status_code in {401, 413, 422}, response.text

    check()
