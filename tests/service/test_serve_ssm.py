"""`python -m service serve` with SSM secrets: one GetParameters, no secret in DEBUG logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from moto import mock_aws
from uvicorn.importer import import_from_string

from service.__main__ import main
from service.config import Settings
from service.ssm import fetch_parameters

PARAMETER = "/fastapi-on-aws/dev/api-token"
SECRET = "S3CRET-token-from-ssm-0123456789"


@pytest.fixture
def get_parameters_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """A moto SSM holding the API token, the serve environment, and a GetParameters log."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MIGRATE_ON_START", "false")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("API_TOKEN_SSM_PARAMETER", PARAMETER)
    calls: list[str] = []
    with mock_aws():
        # Clients made by boto3.client() come from the default session, so a handler
        # registered on it sees every SSM call the service makes.
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register(
            "before-parameter-build.ssm.GetParameters",
            lambda **_: calls.append("GetParameters"),
        )
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value=SECRET, Type="SecureString")
        yield calls
    boto3.DEFAULT_SESSION = None


def _fake_uvicorn_run(served: list[Any]) -> Any:
    """uvicorn.run as far as building the app: resolve an import string like uvicorn does."""

    def run(app: Any, *, factory: bool = False, **_: Any) -> None:
        if isinstance(app, str):
            app = import_from_string(app)
        if factory:
            app = app()
        served.append(app)

    return run


def test_serve_fetches_ssm_once_and_logs_no_secret_at_debug(
    get_parameters_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", _fake_uvicorn_run(served))

    assert main(["serve"]) == 0

    assert len(served) == 1
    assert served[0].state.settings.api_token.get_secret_value() == SECRET
    assert get_parameters_calls == ["GetParameters"]
    # DEBUG logging is configured now; an SSM call made under it (as any later
    # boto3 use would be) must not print the decrypted response.
    assert fetch_parameters({"api_token": PARAMETER}) == {"api_token": SECRET}
    output = capsys.readouterr()
    assert SECRET not in output.out + output.err
