"""Session fixtures for the image tests: built images, TLS PostgreSQL and Redis, the stacks.

Everything here is session-scoped and shared with the Lambda-image tests:

* ``service_image`` / ``lambda_image``: the two Dockerfile targets, built once
  (podman with ``--format docker`` so HEALTHCHECK survives, or docker).
* ``tls_postgres``: a private PostgreSQL on a free port, TLS on (throwaway CA),
  ``hostssl`` + ``scram-sha-256`` only, with the role the task's DATABASE_URL
  names. The machine's shared PostgreSQL (trust, no TLS) would test neither
  the task's ``ssl=require`` nor its password.
* ``tls_redis``: a private ``redis-server`` with TLS only and ``requirepass``.
* ``ca_mount_options``: podman options that make the container trust the test CA.
* ``prod_fargate_stack`` / ``prod_lambda_stack``: the mocked prod stacks.

Every value the tests substitute for the task definition's is recorded with
:func:`record_substitution` and printed in the terminal summary.

Outside CI a missing engine skips with how to get one; under ``CI=true`` it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.image import podman
from tests.infra import harness
from tests.infra.harness import StackResult

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_REPOSITORY = "localhost/fastapi-on-aws-image-test"
# Where the test CA appears inside a container (a file bind-mounted read-only).
CONTAINER_CA_PATH = "/run/fastapi-on-aws-test-ca.pem"
HOW_TO = (
    "run `make test-image` (it installs podman, runc and debootstrap from Debian and builds "
    "stand-ins for the base images), or set IMAGE_ENGINE=docker with a running docker"
)


# ------------------------------------------------------------------ reporting


@dataclass(frozen=True)
class Substitution:
    """One value the tests use instead of the task definition's."""

    what: str
    task_value: str
    test_value: str
    why: str


SUBSTITUTIONS: list[Substitution] = []


def record_substitution(what: str, task_value: str, test_value: str, why: str) -> None:
    """Remember a substituted value; the terminal summary lists them all once."""
    entry = Substitution(what, task_value, test_value, why)
    if entry not in SUBSTITUTIONS:
        SUBSTITUTIONS.append(entry)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List every substituted value after the run (empty when no image test ran)."""
    if not SUBSTITUTIONS:
        return
    terminalreporter.section("image tests: values substituted for the task definition's")
    for entry in SUBSTITUTIONS:
        terminalreporter.write_line(
            f"- {entry.what}: {entry.task_value!r} -> {entry.test_value!r} ({entry.why})"
        )


@contextlib.contextmanager
def progress(config: pytest.Config, name: str) -> Iterator[None]:
    """Print a long step's name and, when it ends, its duration (past pytest's capture)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    started = time.monotonic()
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n==> {name}", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"    {name}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


# --------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _require(ok: bool, message: str) -> None:
    """Skip with ``message`` outside CI; fail with it under CI=true (no silent skips there)."""
    if ok:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI=true: the image tests must run)", pytrace=False)
    pytest.skip(message)


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a host command; raise with its output when it fails."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    completed: subprocess.CompletedProcess[str] = subprocess.run(cmd, check=False, **kw)
    if completed.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(cmd)}` exited {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    return completed


def _as_user(user: str | None, cmd: list[str]) -> list[str]:
    """``cmd`` run as OS ``user`` when we are root (initdb and postgres refuse root)."""
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


# ---------------------------------------------------------------------- stacks


@pytest.fixture(scope="session")
def prod_fargate_stack() -> StackResult:
    """The prod stack with compute=fargate, under the mocks harness."""
    return harness.build_stack("prod", compute="fargate")


@pytest.fixture(scope="session")
def prod_lambda_stack() -> StackResult:
    """The prod stack with compute=lambda, under the mocks harness."""
    return harness.build_stack("prod", compute="lambda")


def _task_environment(stack: StackResult) -> dict[str, str]:
    task = stack.one("aws:ecs/taskDefinition:TaskDefinition")
    (container,) = json.loads(task.inputs["containerDefinitions"])
    return {item["name"]: item["value"] for item in container.get("environment", [])}


def _lambda_environments(stack: StackResult) -> list[dict[str, str]]:
    """The environment of every Lambda function of the stack (there may be several)."""
    return [
        dict((function.inputs.get("environment") or {}).get("variables") or {})
        for function in stack.find("aws:lambda/function:Function")
    ]


# ---------------------------------------------------------------------- images


@pytest.fixture(scope="session")
def engine() -> str:
    """The engine's name, once it is known to work here (else skip / fail under CI)."""
    reason = podman.available()
    _require(reason is None, f"no usable container engine: {reason}; {HOW_TO}")
    return podman.ENGINE


def _build(config: pytest.Config, target: str) -> str:
    image = f"{IMAGE_REPOSITORY}:{target}"
    # podman: --format docker keeps HEALTHCHECK (OCI drops it); --pull=never:
    # the bases are the ones scripts/image/prepare.sh put in the store (real or
    # stand-in), and no registry is reachable here anyway.
    podman_flags = ["--format", "docker", "--pull=never", "--layers"]
    flags = podman_flags if podman.ENGINE == "podman" else []
    with progress(config, f"build {target} target ({podman.ENGINE})"):
        completed = podman.run(
            ["build", *flags, "--target", target, "--tag", image, str(REPO_ROOT)],
            check=False,
            timeout=1200,
        )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-6000:]
        hint = ""
        if "pull" in output.lower() or "image not known" in output.lower():
            hint = "\n(the base images are missing: scripts/image/prepare.sh builds or pulls them)"
        pytest.fail(f"building the {target} target failed:\n{output}{hint}", pytrace=False)
    return image


@pytest.fixture(scope="session")
def service_image(engine: str, pytestconfig: pytest.Config) -> str:
    """The Dockerfile's ``service`` target, built once per session."""
    return _build(pytestconfig, "service")


@pytest.fixture(scope="session")
def lambda_image(engine: str, pytestconfig: pytest.Config) -> str:
    """The Dockerfile's ``lambda`` target, built once per session."""
    return _build(pytestconfig, "lambda")


# ------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TestCertificates:
    """A throwaway CA and one server certificate it signed."""

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path
    names: tuple[str, ...]


@pytest.fixture(scope="session")
def tls_certificates(
    prod_fargate_stack: StackResult, prod_lambda_stack: StackResult
) -> Iterator[TestCertificates]:
    """CA + server certificate for 127.0.0.1, localhost and the stacks' DB/cache host names.

    The AWS host names are in the certificate so that a client that checks the
    host name (rediss://) accepts the test server under the task's own names.
    """
    _require(
        shutil.which("openssl") is not None, "openssl is not installed (apt-get install openssl)"
    )
    directory = Path(tempfile.mkdtemp(prefix="image-tests-tls-"))
    names = {"localhost"}
    for env in [_task_environment(prod_fargate_stack), *_lambda_environments(prod_lambda_stack)]:
        for key in ("DATABASE_URL", "REDIS_URL"):
            if env.get(key):
                host = urlsplit(env[key]).hostname
                if host:
                    names.add(host)
    ordered = tuple(sorted(names))
    ca_key, ca_file = directory / "ca.key", directory / "ca.pem"
    key_file, csr, cert_file = (
        directory / "server.key",
        directory / "server.csr",
        directory / "server.pem",
    )
    _run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=fastapi-on-aws image tests CA",
         "-keyout", str(ca_key), "-out", str(ca_file),
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    )  # fmt: skip
    _run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key_file), "-out", str(csr)]
    )  # fmt: skip
    extensions = directory / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName="
        + ",".join(["IP:127.0.0.1", *(f"DNS:{name}" for name in ordered)])
        + "\n"
    )
    _run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_file), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(cert_file)]
    )  # fmt: skip
    # Readable by the container's unprivileged user (bind-mounted) and by postgres.
    directory.chmod(0o755)
    ca_file.chmod(0o644)
    yield TestCertificates(directory, ca_file, cert_file, key_file, ordered)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def ca_mount_options(tls_certificates: TestCertificates) -> list[str]:
    """Options that make a container trust the test CA.

    The service verifies the Redis server's certificate (redis-py's rediss://
    default is ``ssl_cert_reqs=required``, against OpenSSL's default trust
    store, which ``SSL_CERT_FILE`` replaces). asyncpg's ``ssl=require`` encrypts
    without verifying, so PostgreSQL needs no CA; the same trust store serves both.
    """
    record_substitution(
        "SSL_CERT_FILE (not in the task definition)",
        "the image's system CA bundle",
        CONTAINER_CA_PATH,
        "trust the test CA instead of the public CAs that sign AWS endpoints",
    )
    return [
        "--volume",
        f"{tls_certificates.ca_file}:{CONTAINER_CA_PATH}:ro",
        "--env",
        f"SSL_CERT_FILE={CONTAINER_CA_PATH}",
    ]


# ------------------------------------------------------------------ PostgreSQL


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


@dataclass
class TlsPostgres:
    """A private PostgreSQL that accepts only TLS connections with SCRAM passwords."""

    host: str
    port: int
    user: str
    password: str
    ca_file: Path
    admin_user: str
    admin_password: str
    data_dir: Path
    created: list[str] = field(default_factory=list)

    def _dsn(self, database: str, user: str) -> str:
        # verify-full: psql checks the server certificate against the test CA.
        return (
            f"host={self.host} port={self.port} dbname={database} user={user} "
            f"sslmode=verify-full sslrootcert={self.ca_file}"
        )

    def psql(self, database: str, query: str, *, admin: bool = False) -> str:
        """Run one query with psql over TLS; return its unaligned, tuples-only output."""
        user, password = (
            (self.admin_user, self.admin_password) if admin else (self.user, self.password)
        )
        completed = _run(
            ["psql", self._dsn(database, user), "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", query],
            env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"},
        )
        return completed.stdout.strip()

    def sql(self, database: str, query: str) -> str:
        """Run ``query`` in ``database`` as the administrator, over TLS; return its output."""
        return self.psql(database, query, admin=True)

    def create_database(self) -> str:
        """A fresh, empty database owned by :attr:`user`; return its name."""
        name = f"image_test_{uuid.uuid4().hex[:10]}"
        self.sql("postgres", f'CREATE DATABASE "{name}" OWNER "{self.user}"')
        self.created.append(name)
        return name


@pytest.fixture(scope="session")
def tls_postgres(
    tls_certificates: TestCertificates, prod_fargate_stack: StackResult, pytestconfig: pytest.Config
) -> Iterator[TlsPostgres]:
    """Start a private PostgreSQL: TLS on, ``hostssl`` + ``scram-sha-256`` only.

    The role is the one the prod task's DATABASE_URL names, so only the host
    and port of that URL need substituting. Runs as the ``postgres`` OS user
    when the tests run as root (initdb refuses root).
    """
    bindir = _postgres_bindir()
    _require(
        bindir is not None,
        "PostgreSQL server binaries (initdb) not found: apt-get install postgresql",
    )
    assert bindir is not None
    _require(shutil.which("psql") is not None, "psql not found: apt-get install postgresql-client")
    os_user = "postgres" if os.geteuid() == 0 else None
    url = urlsplit(_task_environment(prod_fargate_stack)["DATABASE_URL"])
    role = url.username or "app"
    root = Path(tempfile.mkdtemp(prefix="image-tests-pg-"))
    data, logfile = root / "data", root / "postgres.log"
    password, admin_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    (root / "pwfile").write_text(admin_password + "\n")
    # The server's own copies: postgres insists its key be 0600 and its own.
    shutil.copy(tls_certificates.cert_file, root / "server.pem")
    shutil.copy(tls_certificates.key_file, root / "server.key")
    (root / "server.key").chmod(0o600)
    if os_user:
        shutil.chown(root, os_user, os_user)
        for path in root.iterdir():
            shutil.chown(path, os_user, os_user)
    port = free_port()
    with progress(pytestconfig, f"PostgreSQL with TLS on 127.0.0.1:{port}"):
        _run(_as_user(os_user, [
            str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
            f"--pwfile={root / 'pwfile'}",
            "--auth=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C",
        ]))  # fmt: skip
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {port}\n"
                f"unix_socket_directories = '{root}'\n"
                "ssl = on\n"
                f"ssl_cert_file = '{root / 'server.pem'}'\nssl_key_file = '{root / 'server.key'}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        # TLS and SCRAM only: a plaintext or trust login is refused outright.
        (data / "pg_hba.conf").write_text(
            "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
        )
        _run(_as_user(os_user, [
            str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w", "-t", "60", "start",
        ]), timeout=90)  # fmt: skip
    server = TlsPostgres(
        host="127.0.0.1",
        port=port,
        user=role,
        password=password,
        ca_file=tls_certificates.ca_file,
        admin_user="postgres",
        admin_password=admin_password,
        data_dir=data,
    )
    try:
        server.sql("postgres", f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        query = f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'"  # noqa: S608
        stored = server.sql("postgres", query)
        assert stored.startswith("SCRAM-SHA-256$"), f"role {role} password not stored as SCRAM"
        yield server
    finally:
        subprocess.run(
            _as_user(os_user, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


# ----------------------------------------------------------------------- Redis


@dataclass(frozen=True)
class TlsRedis:
    """A private redis-server: TLS only (no plaintext port), AUTH required."""

    host: str
    port: int
    password: str
    ca_file: Path

    def client(self) -> Any:
        """A redis-py client over TLS that verifies the server against the test CA."""
        import redis

        return redis.Redis(
            host=self.host,
            port=self.port,
            password=self.password,
            ssl=True,
            ssl_ca_certs=str(self.ca_file),
            socket_timeout=5,
        )


@pytest.fixture(scope="session")
def tls_redis(
    tls_certificates: TestCertificates, pytestconfig: pytest.Config
) -> Iterator[TlsRedis]:
    """Start ``redis-server --port 0 --tls-port P --requirepass …`` in a temp directory."""
    binary = shutil.which("redis-server")
    _require(binary is not None, "redis-server not found: apt-get install redis-server")
    assert binary is not None
    root = Path(tempfile.mkdtemp(prefix="image-tests-redis-"))
    port, password = free_port(), secrets.token_urlsafe(24)
    logfile = root / "redis.log"
    with progress(pytestconfig, f"Redis with TLS on 127.0.0.1:{port}"):
        process = subprocess.Popen(
            [
                binary, "--bind", "127.0.0.1", "--port", "0", "--tls-port", str(port),
                "--tls-cert-file", str(tls_certificates.cert_file),
                "--tls-key-file", str(tls_certificates.key_file),
                "--tls-ca-cert-file", str(tls_certificates.ca_file),
                "--tls-auth-clients", "no", "--requirepass", password,
                "--save", "", "--appendonly", "no", "--dir", str(root), "--logfile", str(logfile),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        server = TlsRedis(
            host="127.0.0.1", port=port, password=password, ca_file=tls_certificates.ca_file
        )
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                log = logfile.read_text() if logfile.exists() else ""
                pytest.fail(
                    f"redis-server exited {process.returncode} (built without TLS?):\n"
                    f"{process.stderr.read() if process.stderr else ''}{log[-2000:]}",
                    pytrace=False,
                )
            try:
                if server.client().ping():
                    break
            except Exception:
                if time.monotonic() > deadline:
                    process.kill()
                    raise
                time.sleep(0.2)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)
