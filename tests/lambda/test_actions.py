"""Direct invocations: ``{"action": "migrate"}`` and clear refusals of everything else."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

import lambda_handler
from service.lambda_runtime import MigrationError
from service.migrations.runner import alembic_config

from .conftest import AUTH, Invoke, StartupSpy, free_port, run
from .events import HTTP_API, FakeContext, http_event, result_json


def head_revision() -> str:
    """The newest revision in service/migrations/versions."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def _tables(database_url: str) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_migrate_upgrades_an_empty_database_to_head(
    throwaway_database: str,
    monkeypatch: pytest.MonkeyPatch,
    invoke: Invoke,
    startups: StartupSpy,
) -> None:
    monkeypatch.setenv("DATABASE_URL", throwaway_database)
    assert "items" not in run(_tables(throwaway_database))

    result = invoke({"action": "migrate"})

    assert result == {"action": "migrate", "status": "ok", "revision": head_revision()}
    assert "items" in run(_tables(throwaway_database))
    # Migrating needs the settings only: the app (engine, cache) is not started for it.
    assert startups.app_startups == 0

    # Idempotent: a second run (another deploy, a retry) finds the schema at head.
    assert invoke({"action": "migrate"}) == result

    # The same environment then serves HTTP on the migrated schema, still one start-up.
    created = invoke(
        http_event(
            HTTP_API, "POST", "/api/v1/items", body={"name": "a", "price": "1"}, headers=AUTH
        )
    )
    assert created["statusCode"] == 201
    assert result_json(created)["price"] == "1.00"
    assert startups.settings_loads == 1
    assert startups.app_startups == 1


def test_migrate_failure_fails_the_invocation_without_leaking_the_password(
    monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    password = "never-show-this-password"
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql+asyncpg://app@127.0.0.1:{free_port()}/app?timeout=2"
    )
    monkeypatch.setenv("DATABASE_PASSWORD", password)

    with pytest.raises(MigrationError, match="migration failed") as raised:
        invoke({"action": "migrate"})
    assert password not in str(raised.value)


REFUSALS: list[tuple[Any, str, list[str]]] = [
    (
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        "unsupported_event",
        ["keys [Records]", "records from aws:sqs"],
    ),
    (
        {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
        "unsupported_event",
        ["EventBridge event from aws.events"],
    ),
    ({"requestContext": {"routeKey": "$connect"}}, "unsupported_event", ["not an HTTP request"]),
    ({}, "unsupported_event", ["an empty object"]),
    (["migrate"], "unsupported_event", ["an array"]),
    ("migrate", "unsupported_event", ["a string"]),
    (None, "unsupported_event", ["null"]),
    (
        {"action": "drop-database"},
        "unknown_action",
        ["'drop-database'", "supported actions: migrate"],
    ),
    ({"action": 7}, "unknown_action", ["a number", "supported actions: migrate"]),
    (
        {"action": "migrate", "revision": "base"},
        "unexpected_keys",
        ["[revision]", 'exactly {"action": "migrate"}'],
    ),
]


@pytest.mark.parametrize(("event", "code", "fragments"), REFUSALS)
def test_other_events_are_refused_clearly(
    event: Any, code: str, fragments: list[str], startups: StartupSpy
) -> None:
    context = FakeContext()
    result = lambda_handler.handler(event, context)

    assert set(result) == {"error"}
    error = result["error"]
    assert error["code"] == code
    assert error["request_id"] == context.aws_request_id
    for fragment in fragments:
        assert fragment in error["message"]
    if code == "unsupported_event":
        # Says what the function does accept.
        assert 'the direct invocation {"action": "migrate"}' in error["message"]
    assert "Traceback" not in error["message"]
    # A refusal costs nothing: no settings, no SSM call, no app.
    assert startups.settings_loads == 0
    assert startups.app_startups == 0
