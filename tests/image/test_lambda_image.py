"""The ``lambda`` image's real entry point, run as Lambda would run the prod function.

The built ``lambda`` target starts as its ENTRYPOINT/CMD say
(``python -m awslambdaric lambda_handler.handler``) against a fake Lambda
Runtime API (tests/image/lambda_runtime_api.py) on 127.0.0.1, with:

- the environment of the prod stack's Lambda function, read from the Pulumi
  program under mocks at test time (the function whose image command is
  ``lambda_handler.handler``; a ``*-migrate-function``, when the program has
  one, for the migrate action), plus the variables Lambda itself sets;
- a read-only root filesystem with only ``/tmp`` writable, and the image's user;
- SSM Parameter Store served by moto's server mode, reached through
  ``AWS_ENDPOINT_URL_SSM``; the three SecureString parameters the environment
  names hold test values (the database and Redis passwords are the TLS
  fixtures' own);
- DATABASE_URL and REDIS_URL as the program wrote them (RDS Proxy endpoint with
  ``ssl=require``, ``rediss://`` ElastiCache endpoint), their AWS host names
  mapped to the TLS fixtures with ``--add-host``; only what must differ (port,
  database, user) is substituted, and every substitution is printed.

Checks: the migrate action reaches the head revision and the schema exists;
API Gateway HTTP API (payload 2.0) requests are served; a non-HTTP event gets
the documented error result; one start-up serves several invocations; every
log line is JSON and no secret is logged.
"""

from __future__ import annotations

import importlib
import json
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from sqlalchemy.engine import make_url

from service.items.router import cache_key
from tests.image import podman
from tests.image.lambda_runtime_api import FakeRuntimeApi, InvocationResult

# `lambda` is a keyword, so the package cannot be named in an import statement.
events: Any = importlib.import_module("tests.lambda.events")

FUNCTION_TYPE = "aws:lambda/function:Function"
SERVING_COMMAND = ["lambda_handler.handler"]
MIGRATE_SUFFIX = "-migrate-function"
SSM_SUFFIX = "_SSM_PARAMETER"
# Lambda's init phase may take up to 10 s before the first invocation's timeout starts.
INIT_BUDGET_S = 10.0
# Starting the container itself (engine overhead) is not Lambda's time either.
ENGINE_START_BUDGET_S = 30.0
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAIMAGETESTFAKEKEY",
    "AWS_SECRET_ACCESS_KEY": "image-test-fake-secret-access-key",
    "AWS_SESSION_TOKEN": "image-test-fake-session-token",
}
GET_PARAMETERS = "AmazonSSM.GetParameters"

# The first test's setup may build the image (the conftest allows 1200 s) and then
# runs both execution environments: far past the suite's 120 s per-test default.
pytestmark = pytest.mark.timeout(1500)


class ConstraintError(AssertionError):
    """A named constraint of the image's Lambda contract does not hold."""


def require(condition: object, constraint: str, detail: str = "") -> None:
    """Fail naming ``constraint`` (and ``detail``) unless ``condition`` holds."""
    if not condition:
        raise ConstraintError(f"{constraint}" + (f"\n{detail}" if detail else ""))


# --- the function records ---------------------------------------------------------------


@dataclass(frozen=True)
class FunctionUnderTest:
    """One Lambda function of the program, as the container must reproduce it."""

    logical_name: str
    function_name: str
    version: str
    arn: str
    region: str
    timeout_s: float
    memory_mb: int
    log_group: str
    log_format: str
    variables: dict[str, str]


def _function(record: Any) -> FunctionUnderTest:
    inputs, outputs = record.inputs, record.outputs
    arn = str(outputs.get("arn", ""))
    logging_config = inputs.get("loggingConfig") or {}
    return FunctionUnderTest(
        logical_name=record.name,
        function_name=str(outputs.get("name") or record.name),
        version=str(outputs.get("version") or "$LATEST"),
        arn=arn,
        region=arn.split(":")[3] if arn.count(":") >= 6 else events.REGION,
        # Lambda's defaults when the program leaves them unset: 3 s and 128 MB.
        timeout_s=float(inputs.get("timeout", 3)),
        memory_mb=int(inputs.get("memorySize", 128)),
        log_group=str(logging_config.get("logGroup") or f"/aws/lambda/{record.name}"),
        log_format=str(logging_config.get("logFormat") or "Text"),
        variables={
            str(k): str(v)
            for k, v in ((inputs.get("environment") or {}).get("variables") or {}).items()
        },
    )


@dataclass(frozen=True)
class Functions:
    """The serving function and the one that runs the migrate action (maybe the same)."""

    serving: FunctionUnderTest
    migrate: FunctionUnderTest

    def distinct(self) -> list[FunctionUnderTest]:
        """The serving function, and the migrate function when it is another one."""
        if self.migrate.logical_name == self.serving.logical_name:
            return [self.serving]
        return [self.serving, self.migrate]


def select_functions(stack: Any) -> Functions:
    """Pick the functions by inspecting the records, never by a fixed logical name."""
    records = [record for record in stack.resources if record.type == FUNCTION_TYPE]
    migrate = [record for record in records if record.name.endswith(MIGRATE_SUFFIX)]
    serving = [
        record
        for record in records
        if record not in migrate
        and ((record.inputs.get("imageConfig") or {}).get("commands")) == SERVING_COMMAND
    ]
    listing = ", ".join(
        f"{r.name} (commands={(r.inputs.get('imageConfig') or {}).get('commands')})"
        for r in records
    )
    require(
        len(serving) == 1,
        f"the prod Lambda stack has exactly one serving function whose image command is "
        f"{SERVING_COMMAND}",
        f"functions: {listing or 'none'}",
    )
    require(
        len(migrate) <= 1,
        f"the prod Lambda stack has at most one function named *{MIGRATE_SUFFIX}",
        f"functions: {listing}",
    )
    chosen = _function(serving[0])
    return Functions(serving=chosen, migrate=_function(migrate[0]) if migrate else chosen)


# --- SSM on moto's server mode ----------------------------------------------------------


class SsmServer:
    """moto's ThreadedMotoServer on 127.0.0.1, counting the SSM API calls it serves."""

    def __init__(self) -> None:
        """Create the server; :meth:`start` binds a free port."""
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as error:
            raise ConstraintError(
                "moto's server mode is importable in the test environment (the image test "
                "serves SSM with moto.server.ThreadedMotoServer)\n"
                f"{type(error).__name__}: {error}. The dev group has moto[ssm,secretsmanager]; "
                "server mode needs the moto[server] extra (flask, flask-cors)."
            ) from None
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.calls: list[str] = []

    def start(self) -> None:
        """Start serving and wrap the WSGI app so every call's ``X-Amz-Target`` is counted."""
        self._server.start()
        wsgi_server: Any = getattr(self._server, "_server", None)
        require(
            wsgi_server is not None and hasattr(wsgi_server, "app"),
            "moto's ThreadedMotoServer exposes its WSGI server (to count SSM calls)",
        )
        inner = wsgi_server.app
        calls = self.calls

        # Counting at the WSGI layer: moto keeps no record of reads, and the
        # number of GetParameters calls is the start-up signal of check (4).
        def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            target = environ.get("HTTP_X_AMZ_TARGET")
            if target:
                calls.append(str(target))
            return inner(environ, start_response)

        wsgi_server.app = counting

    def stop(self) -> None:
        """Stop the server."""
        self._server.stop()

    @property
    def endpoint(self) -> str:
        """The URL for ``AWS_ENDPOINT_URL_SSM``."""
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def count(self, target: str) -> int:
        """How many calls of ``target`` (e.g. ``AmazonSSM.GetParameters``) were served."""
        return sum(1 for call in self.calls if call == target)


@pytest.fixture(scope="module")
def ssm_server() -> Iterator[SsmServer]:
    """SSM on 127.0.0.1 for the containers."""
    server = SsmServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- the environment --------------------------------------------------------------------


@dataclass
class Scenario:
    """Everything the containers are given, and every value that differs from the program."""

    functions: Functions
    database: str
    api_token: str
    database_password: str
    redis_password: str
    host_map: dict[str, str]
    substitutions: list[Substitution] = field(default_factory=list)

    @property
    def secret_values(self) -> list[str]:
        """The values that must never appear in a log."""
        return [self.api_token, self.database_password, self.redis_password]


@dataclass(frozen=True)
class Substitution:
    """One value the containers get instead of the program's (or in addition to it)."""

    what: str
    program_value: str
    test_value: str
    why: str

    def line(self) -> str:
        """One line for the report."""
        return f"{self.what}: {self.program_value!r} -> {self.test_value!r} ({self.why})"


def _ip_of(host: str) -> str:
    """An address for ``--add-host`` (the fixture may name its host rather than an IP)."""
    return socket.gethostbyname(host)


def substituted_env(
    function: FunctionUnderTest, scenario: Scenario, tls_postgres: Any, tls_redis: Any
) -> tuple[dict[str, str], list[Substitution]]:
    """The function's variables with only what must differ replaced; and what was replaced."""
    env = dict(function.variables)
    changes: list[Substitution] = []

    def note(name: str, what: str, old: object, new: object, why: str) -> None:
        changes.append(
            Substitution(f"{function.logical_name} {name} {what}", str(old), str(new), why)
        )

    for name in ("DATABASE_URL", "REDIS_URL"):
        require(name in env, f"the {function.logical_name} function's environment sets {name}")
    database = make_url(env["DATABASE_URL"])
    new_database = database
    if database.port != int(tls_postgres.port):
        new_database = new_database.set(port=int(tls_postgres.port))
        note("DATABASE_URL", "port", database.port, tls_postgres.port, "the TLS fixture's port")
    if database.username != tls_postgres.user:
        new_database = new_database.set(username=tls_postgres.user)
        note("DATABASE_URL", "user", database.username, tls_postgres.user, "the fixture's role")
    # A fresh database, so check (1) sees the migrate action create the schema.
    new_database = new_database.set(database=scenario.database)
    note(
        "DATABASE_URL",
        "database",
        database.database,
        scenario.database,
        "a fresh database, so the migrate action is seen creating the schema",
    )
    env["DATABASE_URL"] = new_database.render_as_string(hide_password=False)

    redis = re.match(r"^(rediss?://[^/:]+):(\d+)(/.*)?$", env["REDIS_URL"])
    require(redis is not None, "REDIS_URL is rediss://host:port[/db]", env["REDIS_URL"])
    assert redis is not None  # for the type checker; require() raised otherwise
    if int(redis.group(2)) != int(tls_redis.port):
        env["REDIS_URL"] = f"{redis.group(1)}:{tls_redis.port}{redis.group(3) or ''}"
        note("REDIS_URL", "port", redis.group(2), tls_redis.port, "the TLS fixture's port")
    return env, changes


def lambda_env(
    function: FunctionUnderTest, variables: Mapping[str, str], api: FakeRuntimeApi, ssm: str
) -> dict[str, str]:
    """What Lambda adds to the function's variables (reserved ones), plus the SSM endpoint."""
    stream = time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{function.version}]{uuid.uuid4().hex}"
    return {
        **variables,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": SERVING_COMMAND[0],
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": function.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_LOG_FORMAT": function.log_format,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "TZ": ":UTC",
        **FAKE_CREDENTIALS,
        # The one addition Lambda does not make: SSM is moto on 127.0.0.1.
        "AWS_ENDPOINT_URL_SSM": ssm,
    }


@pytest.fixture(scope="module")
def scenario(
    prod_lambda_stack: Any,
    tls_postgres: Any,
    tls_redis: Any,
    ssm_server: SsmServer,
) -> Scenario:
    """The functions, test secrets in SSM, a fresh database, and the host name mapping."""
    functions = select_functions(prod_lambda_stack)
    # A fresh database: flush what other modules cached in the shared Redis.
    tls_redis.client().flushall()
    scenario = Scenario(
        functions=functions,
        database=tls_postgres.create_database(),
        api_token=f"image-test-{secrets.token_hex(24)}",
        database_password=str(tls_postgres.password),
        redis_password=str(tls_redis.password),
        host_map={},
    )
    seen_parameters: dict[str, str] = {}
    for function in functions.distinct():
        variables = function.variables
        values = {
            "API_TOKEN_SSM_PARAMETER": scenario.api_token,
            "DATABASE_PASSWORD_SSM_PARAMETER": scenario.database_password,
            "REDIS_PASSWORD_SSM_PARAMETER": scenario.redis_password,
        }
        named = sorted(name for name in variables if name.endswith(SSM_SUFFIX))
        require(
            named == sorted(values),
            f"the {function.logical_name} function names exactly the three SSM parameters "
            f"{sorted(values)}",
            f"it names {named}",
        )
        for name, value in values.items():
            seen_parameters[variables[name]] = value
        database_host = make_url(variables["DATABASE_URL"]).host
        redis_host = re.sub(r"^rediss?://([^/:]+).*$", r"\1", variables["REDIS_URL"])
        require(
            make_url(variables["DATABASE_URL"]).query.get("ssl") == "require",
            f"the {function.logical_name} function's DATABASE_URL requires TLS (ssl=require)",
            variables["DATABASE_URL"],
        )
        require(
            variables["REDIS_URL"].startswith("rediss://"),
            f"the {function.logical_name} function's REDIS_URL uses TLS (rediss://)",
            variables["REDIS_URL"],
        )
        assert database_host is not None
        scenario.host_map[database_host] = _ip_of(str(tls_postgres.host))
        scenario.host_map[redis_host] = _ip_of(str(tls_redis.host))

    client = boto3.client(
        "ssm",
        endpoint_url=ssm_server.endpoint,
        region_name=functions.serving.region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )
    for name, value in seen_parameters.items():
        client.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    for host, address in sorted(scenario.host_map.items()):
        scenario.substitutions.append(
            Substitution(
                f"host name {host}",
                "its AWS address",
                address,
                "--add-host: the TLS fixture listens there; the URL keeps the AWS name",
            )
        )
    for function in functions.distinct():
        _, changes = substituted_env(function, scenario, tls_postgres, tls_redis)
        scenario.substitutions.extend(changes)
    scenario.substitutions.append(
        Substitution(
            "AWS_ENDPOINT_URL_SSM (not set on Lambda)",
            "SSM's regional endpoint",
            ssm_server.endpoint,
            "moto's server mode serves the SSM parameters",
        )
    )
    scenario.substitutions.append(
        Substitution(
            "the SSM SecureString values",
            "the secrets in the account",
            "a random API token; the TLS fixtures' database and Redis passwords",
            "test values",
        )
    )
    report_substitutions(scenario.substitutions)
    return scenario


def report_substitutions(entries: list[Substitution]) -> None:
    """Print the substitutions, and hand them to the image conftest's end-of-run summary."""
    print("values substituted into the prod Lambda functions' environment:")
    for entry in entries:
        print(f"  - {entry.line()}")
    # tests/image/conftest.py lists every image test's substitutions after the run;
    # pytest has loaded it under this name (--import-mode=importlib, rootdir-relative).
    conftest = sys.modules.get("tests.image.conftest")
    record = getattr(conftest, "record_substitution", None)
    if record is None:
        return
    for entry in entries:
        record(entry.what, entry.program_value, entry.test_value, entry.why)


# --- running a function's container -----------------------------------------------------


@dataclass
class Execution:
    """One execution environment: the container, the fake Runtime API, what it answered."""

    function: FunctionUnderTest
    container: podman.Container
    api: FakeRuntimeApi
    ssm: SsmServer
    # GetParameters calls moto had served before this container started.
    ssm_calls_at_start: int = 0
    results: dict[str, InvocationResult] = field(default_factory=dict)
    # Those this container made, and its whole log: set by finish().
    get_parameters_calls: int = 0
    logs: str = ""

    def describe(self) -> str:
        """The container's recent log, for failure messages."""
        lines = (self.logs or self.container.logs()).splitlines()
        return "container log (last 40 lines):\n" + "\n".join(lines[-40:])

    def invoke(self, label: str, event: Any, *, init: bool = False) -> InvocationResult:
        """Invoke through the fake, failing early (with the log) if the container dies."""
        budget = self.function.timeout_s + (INIT_BUDGET_S + ENGINE_START_BUDGET_S if init else 5)
        outcome: list[InvocationResult | Exception] = []

        def call() -> None:
            try:
                outcome.append(self.api.invoke(event, budget))
            except Exception as error:  # handed to the test thread below
                outcome.append(error)

        # A daemon thread, not an executor: a dead container must not leave the
        # test waiting for the whole budget before it can report.
        waiter = threading.Thread(target=call, name=f"invoke-{label}", daemon=True)
        waiter.start()
        while waiter.is_alive():
            waiter.join(timeout=1)
            require(
                not waiter.is_alive() or self.container.is_running(),
                f"the {self.function.logical_name} container keeps running while "
                f"invocation {label!r} is pending",
                self.describe(),
            )
        result = outcome[0]
        if isinstance(result, Exception):
            raise ConstraintError(
                f"invocation {label!r} of {self.function.logical_name} completes within "
                f"{budget:.0f} s: {result}\n{self.describe()}"
            )
        require(
            not result.from_init_error,
            f"the {self.function.logical_name} function initialises (no /init/error)",
            f"init error: {result.error}\n{self.describe()}",
        )
        self.results[label] = result
        return result


@pytest.fixture(scope="module")
def start_execution(
    lambda_image: str,
    ca_mount_options: list[str],
    scenario: Scenario,
    ssm_server: SsmServer,
    tls_postgres: Any,
    tls_redis: Any,
) -> Iterator[Callable[[FunctionUnderTest], Execution]]:
    """Start a function's execution environment: a container of the image against a fake."""
    started: list[Execution] = []

    def start(function: FunctionUnderTest) -> Execution:
        api = FakeRuntimeApi(
            function_name=function.function_name,
            function_timeout_s=function.timeout_s,
            region=function.region,
        ).start()
        variables, _ = substituted_env(function, scenario, tls_postgres, tls_redis)
        env = lambda_env(function, variables, api, ssm_server.endpoint)
        options = [
            *podman.BASE_RUN_OPTIONS,
            # Lambda's root filesystem is read-only; /tmp (512 MB by default) is writable.
            "--read-only",
            *(["--read-only-tmpfs=false"] if podman.ENGINE == "podman" else []),
            "--tmpfs",
            "/tmp:rw,size=512m,mode=1777",
            *[f"--add-host={host}:{address}" for host, address in scenario.host_map.items()],
            # If AWS_ENDPOINT_URL_SSM were ignored, SSM must still not leave this machine.
            f"--add-host=ssm.{function.region}.amazonaws.com:127.0.0.1",
            *ca_mount_options,
            *[item for name in sorted(env) for item in ("--env", f"{name}={env[name]}")],
        ]
        ssm_calls = ssm_server.count(GET_PARAMETERS)
        container = podman.Container.start(
            lambda_image, options, name=f"lambda-image-test-{uuid.uuid4().hex[:10]}"
        )
        execution = Execution(
            function=function,
            container=container,
            api=api,
            ssm=ssm_server,
            ssm_calls_at_start=ssm_calls,
        )
        started.append(execution)
        return execution

    try:
        yield start
    finally:
        for execution in started:
            execution.api.stop()
            execution.container.remove()


def finish(execution: Execution) -> None:
    """Let the runtime poll again, note the SSM calls, keep the log; then stop the container."""
    expected_polls = len(execution.results) + 1
    waited = time.monotonic() + 5
    while execution.api.next_polls < expected_polls and time.monotonic() < waited:
        time.sleep(0.05)
    execution.get_parameters_calls = (
        execution.ssm.count(GET_PARAMETERS) - execution.ssm_calls_at_start
    )
    # Lambda ends an idle environment without a shutdown phase the handler sees:
    # SIGKILL at once (PID 1 would ignore SIGTERM anyway).
    execution.container.stop(timeout=0)
    execution.logs = execution.container.logs()


def _probe_code() -> str:
    """Python run inside the container: who am I, where does SSM go, what is writable."""
    return (
        "import json, os, boto3\n"
        "def writable(path):\n"
        "    try:\n"
        "        with open(os.path.join(path, '.probe'), 'w'): pass\n"
        "        return True\n"
        "    except OSError:\n"
        "        return False\n"
        "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(),\n"
        "  'ssm_endpoint': boto3.client('ssm').meta.endpoint_url,\n"
        "  'root_writable': writable('/app'), 'tmp_writable': writable('/tmp')}))\n"
    )


def check_emulation(execution: Execution, expected_ssm: str, image_user: str) -> None:
    """The container is the Lambda environment intended: user, read-only root, SSM endpoint."""
    probe = execution.container.exec(["python", "-c", _probe_code()])
    require(probe.returncode == 0, "the in-container probe runs", probe.stderr[-2000:])
    facts = json.loads(probe.stdout.strip().splitlines()[-1])
    require(
        facts["ssm_endpoint"] == expected_ssm,
        "the image's boto3 honours AWS_ENDPOINT_URL_SSM",
        f"boto3 would call {facts['ssm_endpoint']}",
    )
    require(
        f"{facts['uid']}:{facts['gid']}" == image_user or str(facts["uid"]) == image_user,
        f"the container runs as the image's own user ({image_user})",
        f"uid:gid is {facts['uid']}:{facts['gid']}",
    )
    require(not facts["root_writable"], "the root filesystem is read-only, as on Lambda")
    require(facts["tmp_writable"], "/tmp is writable, as on Lambda")


@pytest.fixture(scope="module")
def image_user(lambda_image: str) -> str:
    """The image's USER (what Lambda runs the entry point as for a container image)."""
    completed = podman.run(["image", "inspect", "--format", "{{.Config.User}}", lambda_image])
    return completed.stdout.strip()


# --- the executions ---------------------------------------------------------------------


def expected_head() -> str:
    """The head revision of the repository's migrations (what migrate must reach)."""
    from alembic.script import ScriptDirectory

    from service.migrations.runner import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the repository has no migrations"
    return head


@pytest.fixture(scope="module")
def migrate_execution(
    scenario: Scenario,
    start_execution: Callable[[FunctionUnderTest], Execution],
    ssm_server: SsmServer,
    image_user: str,
) -> Execution:
    """The migrate function's environment, invoked once with ``{"action": "migrate"}``."""
    execution = start_execution(scenario.functions.migrate)
    check_emulation(execution, ssm_server.endpoint, image_user)
    execution.invoke("migrate", {"action": "migrate"}, init=True)
    finish(execution)
    return execution


def _http(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    event: dict[str, Any] = events.http_api_event(method, path, **kwargs)
    return event


@pytest.fixture(scope="module")
def serving_execution(
    scenario: Scenario,
    migrate_execution: Execution,
    start_execution: Callable[[FunctionUnderTest], Execution],
    ssm_server: SsmServer,
    image_user: str,
) -> Execution:
    """The serving function's environment: HTTP API requests and foreign events, one container."""
    require(
        migrate_execution.results["migrate"].ok,
        "the migrate action succeeds before the serving function is exercised",
        str(migrate_execution.results["migrate"].error),
    )
    execution = start_execution(scenario.functions.serving)
    check_emulation(execution, ssm_server.endpoint, image_user)
    auth = {"authorization": f"Bearer {scenario.api_token}"}
    execution.invoke("health", _http("GET", "/health"), init=True)
    execution.invoke(
        "create",
        _http(
            "POST",
            "/api/v1/items",
            headers=auth,
            body={"name": "image-test widget", "description": "from the image", "price": "9.99"},
        ),
    )
    execution.invoke(
        "create-unauthenticated",
        _http("POST", "/api/v1/items", body={"name": "nope", "price": "1.00"}),
    )
    execution.invoke("list", _http("GET", "/api/v1/items"))
    created = execution.results["create"]
    item_id = (_body(created) or {}).get("id") if created.ok else None
    if item_id is not None:
        execution.invoke("read", _http("GET", f"/api/v1/items/{item_id}"))
        execution.invoke("read-again", _http("GET", f"/api/v1/items/{item_id}"))
    execution.invoke("ready", _http("GET", "/health/ready"))
    execution.invoke(
        "s3",
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": execution.function.region,
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "uploads"}, "object": {"key": "a.csv"}},
                }
            ]
        },
    )
    execution.invoke(
        "eventbridge",
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": events.ACCOUNT_ID,
            "region": execution.function.region,
            "resources": [],
            "detail": {},
        },
    )
    finish(execution)
    return execution


# --- reading results --------------------------------------------------------------------


def _payload(result: InvocationResult, label: str, execution: Execution) -> dict[str, Any]:
    require(
        result.ok,
        f"invocation {label!r} is answered through /response (not /error)",
        f"error: {result.error}\n{execution.describe()}",
    )
    require(
        isinstance(result.payload, dict),
        f"invocation {label!r} returns a JSON object",
        repr(result.payload),
    )
    payload: dict[str, Any] = result.payload
    return payload


def _body(result: InvocationResult) -> Any:
    try:
        return events.result_json(result.payload) if isinstance(result.payload, dict) else None
    except ValueError:
        return None


def http_response(execution: Execution, label: str, status: int) -> tuple[dict[str, Any], Any]:
    """The API Gateway response of ``label``: checked shape and status; (response, JSON body)."""
    response = _payload(execution.results[label], label, execution)
    missing = {"statusCode", "headers", "body"} - set(response)
    require(
        not missing,
        f"{label}: the result is an API Gateway proxy response (statusCode, headers, body)",
        f"missing {sorted(missing)} in {response}",
    )
    require(
        response["statusCode"] == status,
        f"{label}: answers HTTP {status}",
        f"got {response['statusCode']}: {events.result_text(response)[:500]}",
    )
    require(
        events.result_header(response, "x-request-id"),
        f"{label}: the response carries X-Request-ID",
        str(response.get("headers")),
    )
    return response, _body(execution.results[label])


def log_records(execution: Execution) -> list[dict[str, Any]]:
    """The container's log lines as JSON objects (check (5) reports the ones that are not)."""
    records = []
    for line in execution.logs.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


# --- the checks -------------------------------------------------------------------------


def test_migrate_action_reaches_head_and_creates_the_schema(
    migrate_execution: Execution, scenario: Scenario, tls_postgres: Any
) -> None:
    """(1) ``{"action": "migrate"}`` reports the head revision, and the TLS database has it."""
    head = expected_head()
    payload = _payload(migrate_execution.results["migrate"], "migrate", migrate_execution)
    require(
        payload == {"action": "migrate", "status": "ok", "revision": head},
        f'the migrate action returns {{"action": "migrate", "status": "ok", "revision": {head!r}}}',
        f"it returned {payload}",
    )
    stored = tls_postgres.sql(scenario.database, "SELECT version_num FROM alembic_version")
    require(
        stored.strip() == head,
        f"the TLS database's alembic_version is {head!r} after the migrate action",
        f"it is {stored!r}",
    )
    table = tls_postgres.sql(scenario.database, "SELECT to_regclass('public.items') IS NOT NULL")
    require(
        table.strip() in {"t", "true", "True"},
        "the migrate action created the items table in the TLS database",
        f"to_regclass answered {table!r}",
    )


def test_http_api_requests_are_served_with_ssm_token_and_tls_backends(
    serving_execution: Execution, scenario: Scenario, tls_postgres: Any, tls_redis: Any
) -> None:
    """(2) HTTP API 2.0 events: /health 200, POST 201 with the SSM token, GET 200 envelope."""
    _, health = http_response(serving_execution, "health", 200)
    require(health == {"status": "ok"}, "GET /health answers {'status': 'ok'}", repr(health))

    _, item = http_response(serving_execution, "create", 201)
    require(
        isinstance(item, dict)
        and item.get("name") == "image-test widget"
        and item.get("price") == "9.99"
        and isinstance(item.get("id"), int),
        "POST /api/v1/items with the SSM API token creates the item (201, price as '9.99')",
        repr(item),
    )
    _, refused = http_response(serving_execution, "create-unauthenticated", 401)
    require(
        isinstance(refused, dict) and (refused.get("error") or {}).get("code") == "unauthorized",
        "POST without the bearer token is refused with the 401 'unauthorized' error envelope",
        repr(refused),
    )

    _, page = http_response(serving_execution, "list", 200)
    require(
        isinstance(page, dict) and set(page) == {"items", "total", "limit", "offset"},
        "GET /api/v1/items answers the page envelope {items, total, limit, offset}",
        repr(page),
    )
    require(
        page["total"] == 1 and [i.get("id") for i in page["items"]] == [item["id"]],
        "the page lists exactly the item just created",
        repr(page),
    )
    for label in ("read", "read-again"):
        _, read = http_response(serving_execution, label, 200)
        require(read == item, f"GET /api/v1/items/{{id}} ({label}) returns the item", repr(read))

    _, ready = http_response(serving_execution, "ready", 200)
    require(
        isinstance(ready, dict) and ready.get("status") == "ok",
        "GET /health/ready is 200: the TLS database (SELECT 1) and TLS Redis (PING) both answer",
        repr(ready),
    )
    warnings = [r for r in log_records(serving_execution) if r.get("level") == "warning"]
    require(
        not [r for r in warnings if "cache" in str(r.get("event"))],
        "the cache (TLS Redis) never fell back to the database",
        "\n".join(json.dumps(r) for r in warnings),
    )
    stored = tls_postgres.sql(scenario.database, "SELECT name FROM items")
    require(
        stored.strip() == "image-test widget",
        "the item was written to the TLS database",
        f"items.name: {stored!r}",
    )
    key = cache_key(item["id"])
    require(
        tls_redis.client().exists(key) == 1,
        f"reading the item cached it in the TLS Redis (key {key!r}, with the SSM password)",
    )


def test_non_http_events_get_the_documented_error_result(serving_execution: Execution) -> None:
    """(3) S3 and EventBridge events get ``{"error": {"code": "unsupported_event", ...}}``."""
    origins = {"s3": "records from aws:s3", "eventbridge": "an EventBridge event from aws.events"}
    for label, origin in origins.items():
        result = serving_execution.results[label]
        payload = _payload(result, label, serving_execution)
        error = payload.get("error") or {}
        require(
            set(payload) == {"error"} and error.get("code") == "unsupported_event",
            f"a {label} event gets the unsupported_event error result (docs/lambda.md)",
            repr(payload),
        )
        require(
            origin in str(error.get("message")),
            f"the {label} error result names the event's origin ({origin!r})",
            repr(error.get("message")),
        )
        require(
            error.get("request_id") == result.request_id,
            f"the {label} error result carries the invocation's request id",
            f"{error.get('request_id')!r} != {result.request_id!r}",
        )


def test_one_start_up_serves_every_invocation(
    migrate_execution: Execution, serving_execution: Execution
) -> None:
    """(4) Settings/SSM are loaded and the app started once per execution environment."""
    http_calls = [
        label for label in serving_execution.results if label not in ("s3", "eventbridge")
    ]
    require(len(http_calls) >= 2, "the serving environment handled at least two HTTP invocations")
    started = [r for r in log_records(serving_execution) if r.get("event") == "application started"]
    require(
        len(started) == 1,
        f"one 'application started' line across {len(http_calls)} HTTP invocations "
        "(the app must start once per execution environment)",
        f"found {len(started)}",
    )
    for execution in (migrate_execution, serving_execution):
        invocations = len(execution.results)
        require(
            execution.get_parameters_calls == 1,
            f"{execution.function.logical_name}: one SSM GetParameters call across "
            f"{invocations} invocation(s) (settings are loaded once per execution environment)",
            f"moto served {execution.get_parameters_calls}",
        )
        require(
            execution.api.next_polls == invocations + 1 and execution.api.init_error is None,
            f"{execution.function.logical_name}: one runtime process polled /next for every "
            "invocation and then waited for the next one (no init error, no restart)",
            f"{execution.api.next_polls} polls for {invocations} invocations; "
            f"init error {execution.api.init_error}",
        )
        require(
            not execution.api.protocol_errors,
            f"{execution.function.logical_name}: the runtime kept the Runtime API protocol",
            "\n".join(execution.api.protocol_errors),
        )


def test_every_log_line_is_json_and_no_secret_is_logged(
    migrate_execution: Execution, serving_execution: Execution, scenario: Scenario
) -> None:
    """(5) Every line the containers wrote is a JSON object, and none carries a secret."""
    for execution in (migrate_execution, serving_execution):
        lines = [line for line in execution.logs.splitlines() if line.strip()]
        require(lines, f"{execution.function.logical_name}: the container wrote log lines")
        not_json = []
        for line in lines:
            try:
                parsed = json.loads(line)
            except ValueError:
                not_json.append(line)
                continue
            if not isinstance(parsed, dict):
                not_json.append(line)
        require(
            not not_json,
            f"{execution.function.logical_name}: every log line is a JSON object",
            "not JSON:\n" + "\n".join(not_json[:20]),
        )
        leaked = [
            line for line in lines for value in scenario.secret_values if value and value in line
        ]
        require(
            not leaked,
            f"{execution.function.logical_name}: no SSM secret value appears in the log",
            f"{len(leaked)} line(s) carry one",
        )
