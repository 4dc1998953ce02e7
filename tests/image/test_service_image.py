"""The ``service`` image, run the way the prod Fargate task definition runs it.

The container definition comes from the Pulumi program under the mocks
harness at test time and is translated by :mod:`tests.image.run_options`:
user, read-only root, dropped capabilities, init process, task-storage mounts
with Fargate's ownership rule, environment, secrets (test values), command and
stopTimeout. The database and cache are a private PostgreSQL and Redis with
TLS and passwords; their AWS host names are mapped to 127.0.0.1 and only the
ports (and, where a test needs an empty one, the database name) are rewritten.
The terminal summary lists every substituted value.

Each failure says which constraint of the task the image broke.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.image import podman
from tests.image.conftest import TlsPostgres, TlsRedis, free_port, record_substitution
from tests.image.run_options import (
    FargateVolume,
    command_of,
    fargate_volumes,
    health_check_command,
    run_options,
    shell_line,
)
from tests.infra.harness import StackResult

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
MIGRATIONS = Path(__file__).resolve().parents[2] / "service" / "migrations" / "versions"

# Applies a manifest of (relative path, uid, gid, mode) inside a root helper
# container: the host side may not be root (CI), the container always is.
_APPLY_OWNERSHIP = """
import json, os, sys
for rel, uid, gid, mode in json.loads(sys.argv[1]):
    path = os.path.normpath(os.path.join("/fargate-volume", rel))
    os.lchown(path, uid, gid)
    if not os.path.islink(path):
        os.chmod(path, mode)
"""


# ------------------------------------------------------------------ the task


@dataclass(frozen=True)
class Task:
    """The prod task's one container definition and the task's volumes."""

    container: dict[str, Any]
    volumes: list[dict[str, Any]]

    @property
    def environment(self) -> dict[str, str]:
        """The container definition's plain environment."""
        return {item["name"]: item["value"] for item in self.container.get("environment", [])}

    @property
    def port(self) -> int:
        """The container port (the health check command hard-codes it too)."""
        return int(self.container["portMappings"][0]["containerPort"])

    @property
    def stop_timeout(self) -> int:
        """Seconds ECS waits after SIGTERM before SIGKILL (ECS's default is 30)."""
        return int(self.container.get("stopTimeout", 30))


@pytest.fixture(scope="module")
def task(prod_fargate_stack: StackResult) -> Task:
    """The container definition exactly as the program registers it."""
    definition = prod_fargate_stack.one(TASK_DEFINITION)
    (container,) = json.loads(definition.inputs["containerDefinitions"])
    return Task(container=container, volumes=list(definition.inputs.get("volumes") or []))


# ------------------------------------------------------------ volume emulation


def image_volumes(image: str) -> list[str]:
    """The paths the image declares with VOLUME."""
    out = podman.run(["image", "inspect", "--format", "{{json .Config.Volumes}}", image]).stdout
    return sorted(json.loads(out.strip()) or {})


def _copy_image_directory(image: str, path: str, dest: Path) -> list[tuple[str, int, int, int]]:
    """Copy ``path`` out of the image's own filesystem (not a volume) into ``dest``.

    ``export`` of a created, never-started container is the image's file
    system with no volume mounted over it. Returns the owner/mode manifest.
    """
    created = podman.run(["create", *podman.BASE_RUN_OPTIONS, image]).stdout.strip()
    prefix = path.strip("/")
    manifest: list[tuple[str, int, int, int]] = []
    try:
        with subprocess.Popen([*podman.PODMAN, "export", created], stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                for member in archive:
                    name = member.name.lstrip("./").rstrip("/")
                    if name != prefix and not name.startswith(prefix + "/"):
                        continue
                    rel = str(PurePosixPath(name).relative_to(prefix)) if name != prefix else "."
                    target = dest / rel
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                    elif member.isfile():
                        source = archive.extractfile(member)
                        assert source is not None
                        target.write_bytes(source.read())
                    elif member.issym():
                        target.symlink_to(member.linkname)
                    else:
                        continue
                    manifest.append((rel, member.uid, member.gid, member.mode))
    finally:
        podman.run(["rm", "--force", created], check=False)
    if not any(rel == "." for rel, *_ in manifest):
        raise AssertionError(f"the image declares VOLUME {path} but has no directory there")
    return manifest


def prepare_volume_dirs(image: str, volumes: list[FargateVolume]) -> dict[str, str]:
    """Host directories that look like what Fargate mounts at each mountPoint."""
    dirs: dict[str, str] = {}
    for volume in volumes:
        host = Path(tempfile.mkdtemp(prefix="fargate-volume-"))
        if volume.from_image:
            manifest = _copy_image_directory(image, volume.container_path, host)
        else:
            uid, gid = (int(part) for part in volume.owner.split(":"))
            manifest = [(".", uid, gid, volume.mode)]
        podman.run([
            "run", "--rm", *podman.BASE_RUN_OPTIONS, "--user", "0:0", "--entrypoint", "python3",
            "--volume", f"{host}:/fargate-volume", image, "-c", _APPLY_OWNERSHIP,
            json.dumps(manifest),
        ])  # fmt: skip
        dirs[volume.container_path] = str(host)
    return dirs


# ------------------------------------------------------------------- launching


@dataclass
class Launch:
    """Everything needed to start one task's container, and what was substituted."""

    image: str
    task: Task
    volumes: list[FargateVolume]
    volume_dirs: dict[str, str]
    options: list[str]
    api_token: str
    port: int
    container: podman.Container | None = None
    cleanup: list[Path] = field(default_factory=list)

    def url(self, path: str) -> str:
        """An URL of this container's HTTP server."""
        return f"http://127.0.0.1:{self.port}{path}"


def _with_port(url: str, port: int, database: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    path = f"/{database}" if database else parts.path
    return urlunsplit((parts.scheme, f"{netloc}:{port}", path, parts.query, parts.fragment))


def launch(
    image: str,
    task: Task,
    *,
    postgres: TlsPostgres,
    redis: TlsRedis,
    ca_options: list[str],
    database: str | None = None,
    port: int | None = None,
) -> Launch:
    """Start the service as the task definition says; return once ``/health`` answers."""
    env = task.environment
    db_url, redis_url = urlsplit(env["DATABASE_URL"]), urlsplit(env["REDIS_URL"])
    assert db_url.hostname
    assert redis_url.hostname
    overrides = {
        "DATABASE_URL": _with_port(env["DATABASE_URL"], postgres.port, database),
        "REDIS_URL": _with_port(env["REDIS_URL"], redis.port),
    }
    record_substitution(
        "DATABASE_URL port", str(db_url.port), str(postgres.port), "the test PostgreSQL's free port"
    )
    record_substitution(
        "REDIS_URL port", str(redis_url.port), str(redis.port), "the test Redis's free port"
    )
    if database:
        record_substitution(
            "DATABASE_URL database",
            db_url.path.lstrip("/"),
            "image_test_<random>",
            "an empty database of its own (migration and shutdown tests)",
        )
    if port is not None and port != task.port:
        overrides["PORT"] = str(port)
        record_substitution(
            "PORT (second and third containers)",
            env.get("PORT", ""),
            "<a free port>",
            "several containers share the host network; the first keeps the task's port",
        )
    for host, what in ((db_url.hostname, "RDS endpoint"), (redis_url.hostname, "ElastiCache")):
        record_substitution(f"DNS {what} {host}", "its AWS address", "127.0.0.1", "--add-host")
    api_token = secrets.token_urlsafe(32)
    secret_values = {
        "API_TOKEN": api_token,
        "DATABASE_PASSWORD": postgres.password,
        "REDIS_PASSWORD": redis.password,
    }
    for name in secret_values:
        record_substitution(
            f"secret {name}", "SSM parameter (valueFrom)", "a test value", "no SSM here"
        )
    volumes = fargate_volumes(task.container, task.volumes, image_volumes(image))
    dirs = prepare_volume_dirs(image, volumes)
    options = [
        *podman.BASE_RUN_OPTIONS,
        *run_options(
            task.container,
            task.volumes,
            image_volumes=image_volumes(image),
            volume_dirs=dirs,
            secret_values=secret_values,
            env_overrides=overrides,
            engine=podman.ENGINE,
        ),
        *ca_options,
        "--add-host",
        f"{db_url.hostname}:127.0.0.1",
        "--add-host",
        f"{redis_url.hostname}:127.0.0.1",
    ]
    started = Launch(
        image=image,
        task=task,
        volumes=volumes,
        volume_dirs=dirs,
        options=options,
        api_token=api_token,
        port=port or task.port,
        cleanup=[Path(d) for d in dirs.values()],
    )
    started.container = podman.Container.start(image, options, command_of(task.container))
    return started


def wait_healthy(started: Launch, timeout: float) -> None:
    """Poll ``/health`` until 200; fail with the container's logs if it exits or never answers."""
    container = started.container
    assert container is not None
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not container.is_running():
            pytest.fail(
                f"the service exited ({container.exit_code()}) under the task definition's "
                f"constraints before /health answered. Logs:\n{container.logs()[-4000:]}\n"
                f"run options: {shell_line(started.options)}",
                pytrace=False,
            )
        try:
            if httpx.get(started.url("/health"), timeout=2).status_code == 200:
                return
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.3)
    pytest.fail(
        f"/health did not answer 200 within the task's startPeriod ({timeout:.0f} s): {last}\n"
        f"{container.logs()[-4000:]}",
        pytrace=False,
    )


def stop_and_remove(started: Launch) -> None:
    """Remove the container and its volume directories."""
    if started.container is not None:
        started.container.remove()
    for path in started.cleanup:
        shutil.rmtree(path, ignore_errors=True)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def service(
    service_image: str,
    task: Task,
    tls_postgres: TlsPostgres,
    tls_redis: TlsRedis,
    ca_mount_options: list[str],
) -> Iterator[Launch]:
    """One container of the prod task, on the task's own port and database name."""
    if not _port_free(task.port):
        pytest.fail(
            f"port {task.port} (the task's containerPort, which its healthCheck.command also "
            "uses) is already in use on 127.0.0.1: stop what listens there",
            pytrace=False,
        )
    database = urlsplit(task.environment["DATABASE_URL"]).path.lstrip("/")
    # The database the task names, empty, owned by the task's role (RDS creates it).
    tls_postgres.sql("postgres", f'CREATE DATABASE "{database}" OWNER "{tls_postgres.user}"')
    # A new, empty database: cache entries another module's service left in the
    # shared Redis (same item ids) would otherwise be served as this one's rows.
    tls_redis.client().flushall()
    started = launch(
        service_image, task, postgres=tls_postgres, redis=tls_redis, ca_options=ca_mount_options
    )
    try:
        start_period = float(task.container.get("healthCheck", {}).get("startPeriod", 60))
        wait_healthy(started, start_period)
        yield started
    finally:
        stop_and_remove(started)
        tls_postgres.sql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


# ----------------------------------------------------------------------- tests


def test_image_keeps_its_healthcheck(service_image: str) -> None:
    """The built image carries the Dockerfile's HEALTHCHECK (podman needs --format docker)."""
    out = podman.run(
        ["image", "inspect", "--format", "{{json .Config.Healthcheck}}", service_image]
    )
    health = json.loads(out.stdout.strip())
    assert health, "the image lost the Dockerfile's HEALTHCHECK (OCI format drops it)"
    assert health["Test"][0] in ("CMD", "CMD-SHELL")


def test_task_health_check_command_passes(service: Launch) -> None:
    """The task's own healthCheck.command succeeds inside the container, as the task's user."""
    assert service.container is not None
    command = health_check_command(service.task.container)
    result = service.container.exec(command)
    assert result.returncode == 0, (
        f"the task definition's healthCheck.command {command} fails inside the image "
        f"(exit {result.returncode}): ECS would mark every task unhealthy and replace it.\n"
        f"{result.stdout}{result.stderr}"
    )


def test_liveness_and_readiness_answer_200(service: Launch) -> None:
    """/health and /health/ready: the database over TLS (SCRAM) and Redis over TLS (AUTH)."""
    live = httpx.get(service.url("/health"), timeout=5)
    assert live.status_code == 200, live.text
    ready = httpx.get(service.url("/health/ready"), timeout=5)
    assert ready.status_code == 200, (
        "readiness fails under the task's settings (DATABASE_URL ssl=require with the "
        f"DATABASE_PASSWORD secret, rediss:// with REDIS_PASSWORD): {ready.text}"
    )


def test_write_then_read_through_the_cache(service: Launch, tls_redis: TlsRedis) -> None:
    """POST with the API_TOKEN secret, then GET twice; the item lands in the TLS Redis."""
    denied = httpx.post(service.url("/api/v1/items"), json={"name": "x", "price": "1"}, timeout=5)
    assert denied.status_code == 401, f"a write without the token was not refused: {denied.text}"
    headers = {"Authorization": f"Bearer {service.api_token}"}
    body = {"name": "image test widget", "price": "9.99"}
    created = httpx.post(service.url("/api/v1/items"), json=body, headers=headers, timeout=10)
    assert created.status_code == 201, (
        f"POST /api/v1/items with the API_TOKEN secret's value failed: {created.text}"
    )
    item = created.json()
    for _ in range(2):
        read = httpx.get(service.url(f"/api/v1/items/{item['id']}"), timeout=5)
        assert read.status_code == 200, read.text
        assert read.json() == item
    cached = tls_redis.client().get(f"items:{item['id']}")
    assert cached is not None, (
        "the read did not go through Redis (rediss:// with the REDIS_PASSWORD secret): "
        "no items:<id> key in the test Redis"
    )


def test_the_app_user_can_write_every_task_volume(service: Launch) -> None:
    """Each read-write mountPoint is writable by the task's user, as Fargate mounts it."""
    assert service.container is not None
    user = str(service.task.container.get("user") or "")
    writable = [volume for volume in service.volumes if not volume.read_only]
    assert writable, "the task mounts no writable volume: nothing to check"
    probe = (
        "import os, sys, tempfile; fd, p = tempfile.mkstemp(dir=sys.argv[1]); "
        "os.write(fd, b'x'); os.close(fd); os.unlink(p)"
    )
    for volume in writable:
        result = service.container.exec(
            ["python", "-c", probe, volume.container_path], user=user or None
        )
        listing = service.container.exec(["stat", "-c", "%u:%g %a", volume.container_path])
        assert result.returncode == 0, (
            f"the app user {user} cannot write {volume.container_path}, mounted as Fargate "
            f"mounts it: {volume.describe()}; inside the container it is "
            f"{listing.stdout.strip()} (uid:gid mode). Fix the image: make the directory "
            f"writable for {user} (e.g. chmod 1777) and declare VOLUME "
            f'["{volume.container_path}"] in the runtime stage.\n{result.stderr.strip()[-600:]}'
        )


def _log_lines(container: podman.Container) -> list[str]:
    return [line for line in container.logs().splitlines() if line.strip()]


def test_every_log_line_is_json(service: Launch) -> None:
    """stdout and stderr carry only JSON lines (CloudWatch parses them; awslogs driver)."""
    assert service.container is not None
    httpx.get(service.url("/no/such/route"), timeout=5)
    httpx.post(service.url("/api/v1/items"), json={}, timeout=5)
    time.sleep(0.5)
    lines = _log_lines(service.container)
    assert lines, "the service wrote no log line at all"
    bad = []
    for line in lines:
        try:
            if not isinstance(json.loads(line), dict):
                bad.append(line)
        except ValueError:
            bad.append(line)
    assert not bad, (
        f"{len(bad)} of {len(lines)} log lines are not JSON objects (the task ships stdout/stderr "
        "to CloudWatch through awslogs; queries expect JSON):\n" + "\n".join(bad[:10])
    )


def _head_revisions() -> set[str]:
    revisions, downs = set(), set()
    for path in MIGRATIONS.glob("*.py"):
        text = path.read_text()
        rev = re.search(r'^revision[^=]*=\s*"([^"]+)"', text, re.M)
        down = re.search(r'^down_revision[^=]*=\s*"([^"]+)"', text, re.M)
        if rev:
            revisions.add(rev.group(1))
        if down:
            downs.add(down.group(1))
    return revisions - downs


def test_two_tasks_on_an_empty_database_migrate_exactly_once(
    service_image: str,
    task: Task,
    tls_postgres: TlsPostgres,
    tls_redis: TlsRedis,
    ca_mount_options: list[str],
) -> None:
    """Two containers started together: one applies the migrations, the other waits and finds head.

    The advisory lock in service/migrations/runner.py makes this safe; without
    it the second `CREATE TABLE items` fails and that task crash-loops.
    """
    database = tls_postgres.create_database()

    def start(_: int) -> Launch:
        return launch(
            service_image,
            task,
            postgres=tls_postgres,
            redis=tls_redis,
            ca_options=ca_mount_options,
            database=database,
            port=free_port(),
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        launches = list(pool.map(start, range(2)))
    try:
        for started in launches:
            wait_healthy(started, 90)
        logs = [started.container.logs() if started.container else "" for started in launches]
        upgrades = sum(len(re.findall(r"Running upgrade", text)) for text in logs)
        rows = tls_postgres.sql(database, "SELECT version_num FROM alembic_version").split()
        assert set(rows) == _head_revisions(), f"alembic_version holds {rows}, not the head"
        assert len(rows) == 1, f"alembic_version has {len(rows)} rows: migrated more than once?"
        migrations = len(list(MIGRATIONS.glob("0*.py")))
        assert upgrades == migrations, (
            f"two tasks started together on an empty database ran {upgrades} migration steps "
            f"(expected {migrations}, once each): the migration lock did not serialise them.\n"
            + "\n---\n".join(text[-2000:] for text in logs)
        )
        tables = tls_postgres.sql(
            database, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'"
        )
        assert tables == "1"
    finally:
        for started in launches:
            stop_and_remove(started)


def test_sigterm_stops_the_task_within_stop_timeout(
    service_image: str,
    task: Task,
    tls_postgres: TlsPostgres,
    tls_redis: TlsRedis,
    ca_mount_options: list[str],
) -> None:
    """`stop --time stopTimeout`: the service exits on SIGTERM, before ECS would SIGKILL it."""
    database = tls_postgres.create_database()
    started = launch(
        service_image,
        task,
        postgres=tls_postgres,
        redis=tls_redis,
        ca_options=ca_mount_options,
        database=database,
        port=free_port(),
    )
    try:
        wait_healthy(started, 90)
        assert started.container is not None
        took = started.container.stop(task.stop_timeout)
        code = started.container.exit_code()
        assert took < task.stop_timeout, (
            f"SIGTERM did not stop the service within the task's stopTimeout "
            f"({task.stop_timeout} s): it took {took:.1f} s and exited {code} "
            f"(137 = killed).\n{started.container.logs()[-2000:]}"
        )
        # uvicorn re-raises the SIGTERM it handled once it has shut down, so a
        # graceful exit is 143 (128 + SIGTERM) or 0; 137 would be SIGKILL.
        logs = started.container.logs()
        assert code in (0, 143), f"the service exited {code} on SIGTERM:\n{logs[-2000:]}"
        assert "Application shutdown complete" in logs, (
            f"the service did not shut down gracefully on SIGTERM:\n{logs[-2000:]}"
        )
    finally:
        stop_and_remove(started)
