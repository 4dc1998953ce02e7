"""compose.yaml: valid Compose, the task definition's variables, health-gated start; make dev-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.documents import task_definition as td
from service.config import Settings, env_name

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
# ${NAME:-default} and ${NAME}: what compose substitutes from the caller's environment.
_INTERPOLATION = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}")


def compose() -> dict[str, Any]:
    """compose.yaml, parsed."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored Compose specification schema (no network)."""
    cli = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(cli), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = validate(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    """The check can fail: an unknown depends_on condition is refused."""
    broken = tmp_path / "compose.yaml"
    document = compose()
    document["services"]["app"]["depends_on"]["postgres"]["condition"] = "when_ready"
    broken.write_text(yaml.safe_dump(document))
    assert validate(broken).returncode != 0


def app_environment() -> dict[str, str]:
    """The app's environment with compose's defaults substituted (nothing exported)."""
    raw = compose()["services"]["app"]["environment"]
    return {
        name: _INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))
        for name, value in raw.items()
    }


def test_app_variables_are_the_task_definitions() -> None:
    """The same names as the Fargate container: plain settings, secrets, and the optional ones."""
    task = td.service_environment(
        production=False,
        database_address="db.internal.example",
        redis_endpoint="cache.internal.example",
        log_level="INFO",
        cors_origins=[],
        cache_ttl_seconds=60,
        config_revision="api-token-v1.database-password-v1.redis-password-v1",
        release="service-0123456789ab-cafe0123",
    )
    expected = set(task) | set(td.SECRET_VARIABLES) | set(td.OPTIONAL_SECRET_VARIABLES)
    assert set(app_environment()) == expected


def test_app_environment_loads_into_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    for name, value in app_environment().items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "development"
    assert settings.port == td.CONTAINER_PORT
    assert settings.sentry_dsn is None  # no error tracking unless the caller exports a DSN
    url = settings.sqlalchemy_url()
    services = compose()["services"]
    assert (url.host, url.username, url.database) == ("postgres", "app", "app")
    assert url.password == services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.redis_password is not None
    assert settings.redis_password.get_secret_value() in services["redis"]["command"]


def test_app_is_the_service_target_and_starts_after_healthy_dependencies() -> None:
    services = compose()["services"]
    app = services["app"]
    assert app["build"]["target"] == "service"
    assert re.search(r"^FROM \S+ AS service$", (REPO_ROOT / "Dockerfile").read_text(), re.M)
    assert app["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    # The container runs as the task definition runs it.
    assert app["user"] == td.CONTAINER_USER
    assert app["read_only"] is True
    assert f"/{td.HEALTH_CHECK_PATH.strip('/')}'" in " ".join(app["healthcheck"]["test"])
    # Every published port is on the host's loopback only.
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:")


# --- make dev-up / dev-down --------------------------------------------------------------


def fake_tool(directory: Path, name: str, *, compose_works: bool) -> None:
    """A ``docker`` or ``podman`` on PATH that logs its arguments; ``compose`` works or not."""
    script = directory / name
    status = 0 if compose_works else 1
    script.write_text(
        "#!/bin/sh\n"
        f'echo "{name} $*" >> "{directory}/calls"\n'
        f'[ "$1" = compose ] && exit {status}\n'
        "exit 1\n"
    )
    script.chmod(0o755)


def make(target: str, tools: Path) -> subprocess.CompletedProcess[str]:
    """``make <target>`` with only the fake tools (then the system's basics) on PATH."""
    environment = {**os.environ, "PATH": f"{tools}:/usr/bin:/bin"}
    environment.pop("COMPOSE", None)
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("target", ["dev-up", "dev-down"])
def test_without_docker_or_podman_compose_the_error_names_both(tmp_path: Path, target: str) -> None:
    fake_tool(tmp_path, "docker", compose_works=False)
    fake_tool(tmp_path, "podman", compose_works=False)
    result = make(target, tmp_path)
    assert result.returncode == 2
    assert "'docker compose'" in result.stderr
    assert "'podman compose'" in result.stderr


@pytest.mark.parametrize(
    ("docker", "podman", "used"),
    [(True, True, "docker"), (False, True, "podman")],
    ids=["docker-first", "podman-when-no-docker"],
)
def test_dev_up_and_down_use_whichever_compose_works(
    tmp_path: Path, docker: bool, podman: bool, used: str
) -> None:
    fake_tool(tmp_path, "docker", compose_works=docker)
    fake_tool(tmp_path, "podman", compose_works=podman)
    assert make("dev-up", tmp_path).returncode == 0
    assert make("dev-down", tmp_path).returncode == 0
    calls = (tmp_path / "calls").read_text().splitlines()
    assert f"{used} compose up --build --detach" in calls
    assert f"{used} compose down" in [call.strip() for call in calls]
