"""StackConfig: the schema in Pulumi.yaml, the stack files, and every rejection (A4, B13, C3-C5)."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
import yaml

from infra.config import CONFIG_KEYS, FARGATE_PAIRS, PROJECT, ConfigError, StackConfig
from tests.infra import harness
from tests.infra.harness import REPO_ROOT, HarnessError


def stack_values(stack: str, **overrides: object) -> dict[str, object]:
    """The stack file's values, keyed as ``StackConfig.from_values`` expects, plus overrides."""
    raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    values: dict[str, object] = {}
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        values[name if namespace == PROJECT else key] = value
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def load(stack: str, **overrides: object) -> StackConfig:
    """A StackConfig from a stack file plus overrides."""
    return StackConfig.from_values(stack, stack_values(stack, **overrides))


# ----------------------------------------------------------------- the project


def test_pulumi_yaml_declares_the_project_and_runtime() -> None:
    """Project name, python with the uv toolchain, program in infra/."""
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "uv"}}
    assert project["main"] == "infra/"
    assert (REPO_ROOT / project["main"] / "__main__.py").is_file()


def test_pulumi_yaml_schema_matches_config_keys_exactly() -> None:
    """Every key is declared with the same type, description and default as CONFIG_KEYS."""
    schema = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]
    assert list(schema) == [spec.name for spec in CONFIG_KEYS]
    for spec in CONFIG_KEYS:
        declared = schema[spec.name]
        assert declared["type"] == spec.schema_type, spec.name
        assert declared["description"] == spec.description, spec.name
        assert declared["default"] == spec.default, spec.name
        assert type(declared["default"]) is spec.kind, spec.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_use_only_declared_keys(stack: str) -> None:
    """A misspelt key in a stack file would silently fall back to a default."""
    raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    declared = {f"{PROJECT}:{spec.name}" for spec in CONFIG_KEYS}
    extra = {key for key in raw if not key.startswith("aws:")} - declared
    assert not extra
    assert raw["aws:region"] == "eu-west-1"
    assert raw[f"{PROJECT}:compute"] == "fargate"


def test_dev_is_small_and_cheap() -> None:
    """dev: one NAT, no deletion protection, skips the final snapshot, nothing protected."""
    cfg = load("dev")
    assert not cfg.is_prod
    assert (cfg.az_count, cfg.nat_strategy, cfg.vpc_cidr) == (2, "single", "10.10.0.0/16")
    assert not cfg.db_deletion_protection
    assert cfg.db_skip_final_snapshot
    assert not cfg.protect_data
    assert (cfg.task_cpu, cfg.task_memory, cfg.desired_count) == (256, 512, 1)
    assert cfg.service_environment == "staging"


def test_prod_is_multi_az_protected_and_pinned_to_an_account() -> None:
    """prod: Multi-AZ, deletion protection, final snapshot, 14-day backups, allowed account (C5)."""
    cfg = load("prod")
    assert cfg.is_prod
    assert (cfg.az_count, cfg.nat_strategy, cfg.vpc_cidr) == (3, "per-az", "10.20.0.0/16")
    assert cfg.db_multi_az
    assert cfg.db_deletion_protection
    assert cfg.protect_data
    assert not cfg.db_skip_final_snapshot
    assert cfg.db_backup_retention_days >= 7
    assert cfg.cache_node_count >= 2
    assert cfg.log_retention_days >= 365
    assert cfg.allowed_account_ids == ("111111111111",)
    assert not cfg.allow_http
    assert cfg.certificate_arn
    assert cfg.service_environment == "production"


@pytest.mark.parametrize(
    ("architecture", "docker", "ecs", "function"),
    [("x86_64", "linux/amd64", "X86_64", "x86_64"), ("arm64", "linux/arm64", "ARM64", "arm64")],
)
def test_a10_one_architecture_three_spellings(
    architecture: str, docker: str, ecs: str, function: str
) -> None:
    """A10: the image platform, ECS runtimePlatform and Lambda architectures agree."""
    cfg = load("dev", cpuArchitecture=architecture)
    assert (cfg.docker_platform, cfg.ecs_cpu_architecture, cfg.lambda_architecture) == (
        docker,
        ecs,
        function,
    )


def test_strings_from_pulumi_are_coerced() -> None:
    """Pulumi passes every value as a string; booleans and integers are parsed."""
    cfg = load("dev", azCount="3", flowLogs="true", corsOrigins="https://a.example, http://b:8080")
    assert cfg.az_count == 3
    assert cfg.flow_logs is True
    assert cfg.cors_origins == ("https://a.example", "http://b:8080")


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [(256, 512), (512, 4096), (1024, 8192), (4096, 30720), (8192, 61440), (16384, 122880)],
)
def test_a4_valid_fargate_pairs_are_accepted(cpu: int, memory: int) -> None:
    """A4: the documented pairs, including 4, 8 and 16 vCPU, are accepted."""
    cfg = load("dev", taskCpu=cpu, taskMemory=memory)
    assert (cfg.task_cpu, cfg.task_memory) == (cpu, memory)


def test_a4_fargate_table_shape() -> None:
    """A4: 8 and 16 vCPU step by 4 and 8 GiB; the others by 1 GiB."""
    assert FARGATE_PAIRS[8192][1] - FARGATE_PAIRS[8192][0] == 4096
    assert FARGATE_PAIRS[16384][1] - FARGATE_PAIRS[16384][0] == 8192
    assert FARGATE_PAIRS[256] == (512, 1024, 2048)


# ----------------------------------------------------------------- rejections

REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    # (stack, overrides, key named in the message, fragment of what is allowed)
    ("dev", {"compute": "ec2"}, "compute", "fargate, lambda"),
    ("dev", {"azCount": 1}, "azCount", "from 2 to 3"),
    ("dev", {"azCount": 4}, "azCount", "from 2 to 3"),
    ("dev", {"azCount": "two"}, "azCount", "expected an integer"),
    ("dev", {"vpcCidr": "10.0.0.0/8"}, "vpcCidr", "/16 to /24"),
    ("dev", {"vpcCidr": "10.10.0.1/16"}, "vpcCidr", "IPv4 network"),
    ("dev", {"vpcCidr": "8.8.0.0/16"}, "vpcCidr", "private"),
    ("dev", {"natStrategy": "two"}, "natStrategy", "single, per-az, none"),
    ("dev", {"natStrategy": "none"}, "vpcEndpoints", "natStrategy is 'none'"),
    ("dev", {"vpcEndpoints": "yes"}, "vpcEndpoints", "true or false"),
    ("dev", {"cpuArchitecture": "amd64"}, "cpuArchitecture", "x86_64, arm64"),
    ("dev", {"logRetentionDays": 10}, "logRetentionDays", "14, 30"),
    ("dev", {"taskCpu": 300}, "taskCpu", "256, 512, 1024"),
    ("dev", {"taskCpu": 256, "taskMemory": 4096}, "taskMemory", "512-2048"),
    ("dev", {"taskCpu": 8192, "taskMemory": 18432}, "taskMemory", "steps of 4096"),
    ("dev", {"dbInstanceClass": "t4g.micro"}, "dbInstanceClass", "db.t4g.micro"),
    ("dev", {"dbAllocatedStorageGb": 10}, "dbAllocatedStorageGb", "20 to 65536"),
    ("dev", {"dbMaxAllocatedStorageGb": 15}, "dbMaxAllocatedStorageGb", "from dbAllocated"),
    ("dev", {"dbEngineVersion": "16.4.1"}, "dbEngineVersion", "13, 14, 15, 16, 17"),
    ("dev", {"dbBackupRetentionDays": 0}, "dbBackupRetentionDays", "1 to 35"),
    ("dev", {"cacheNodeType": "t4g.micro"}, "cacheNodeType", "cache.t4g.micro"),
    ("dev", {"cacheNodeCount": 7}, "cacheNodeCount", "1 to 6"),
    ("dev", {"cacheEngineVersion": "7"}, "cacheEngineVersion", "6.2, 7.0, 7.1"),
    ("dev", {"logLevel": "LOUD"}, "logLevel", "DEBUG, INFO"),
    ("dev", {"corsOrigins": "example.com"}, "corsOrigins", "https://"),
    ("dev", {"minCount": 3, "maxCount": 2}, "maxCount", "from 3 to 100"),
    ("dev", {"desiredCount": 5}, "desiredCount", "from 1 to 2"),
    ("dev", {"certificateArn": "arn:aws:iam::1:x"}, "certificateArn", "ACM ARN"),
    # The ALB listener and the regional API Gateway domain need a certificate
    # from the stack's own region.
    (
        "dev",
        {"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"},
        "certificateArn",
        "region us-east-1 but the stack deploys to aws:region eu-west-1",
    ),
    ("dev", {"lambdaTimeoutSeconds": 30}, "lambdaTimeoutSeconds", "1 to 29"),
    ("dev", {"lambdaMemoryMb": 64}, "lambdaMemoryMb", "128 to 10240"),
    ("dev", {"lambdaReservedConcurrency": 0}, "lambdaReservedConcurrency", "-1"),
    ("dev", {"aws:region": None}, "aws:region", "eu-west-1"),
    ("dev", {"aws:allowedAccountIds": ["12345"]}, "aws:allowedAccountIds", "12 digits"),
    ("dev", {"dbMultiAZ": True}, "dbMultiAZ", "allowed keys are"),
    ("prod", {"aws:allowedAccountIds": None}, "aws:allowedAccountIds", "production stack"),
    ("prod", {"dbBackupRetentionDays": 3}, "dbBackupRetentionDays", "at least 7"),
    ("prod", {"dbMultiAz": False}, "dbMultiAz", "requires true"),
    ("prod", {"dbDeletionProtection": False}, "dbDeletionProtection", "requires true"),
    ("prod", {"dbSkipFinalSnapshot": True}, "dbSkipFinalSnapshot", "requires false"),
    ("prod", {"protectData": False}, "protectData", "requires true"),
    ("prod", {"cacheNodeCount": 1}, "cacheNodeCount", "at least 2"),
    ("prod", {"cacheSnapshotRetentionDays": 0}, "cacheSnapshotRetentionDays", "at least 1"),
    ("prod", {"logRetentionDays": 90}, "logRetentionDays", "at least 365"),
    ("prod", {"certificateArn": ""}, "certificateArn", "unless allowHttp"),
    # Custom domain and alarms (issue 8).
    ("dev", {"domainName": "api.example.com"}, "hostedZoneId", "set together"),
    ("dev", {"hostedZoneId": "Z123ABC"}, "domainName", "set together"),
    ("dev", {"domainName": "*.example.com", "hostedZoneId": "Z1"}, "domainName", "DNS name"),
    ("dev", {"domainName": "localhost", "hostedZoneId": "Z1"}, "domainName", "DNS name"),
    ("dev", {"domainName": "a..example.com", "hostedZoneId": "Z1"}, "domainName", "DNS name"),
    ("dev", {"domainName": "api.example.com", "hostedZoneId": "z12"}, "hostedZoneId", "'Z'"),
    ("dev", {"domainName": "api.example.com", "hostedZoneId": "X12"}, "hostedZoneId", "'Z'"),
    ("dev", {"alarmEmail": "ops"}, "alarmEmail", "e-mail address"),
    ("dev", {"alarmEmail": "ops@example"}, "alarmEmail", "e-mail address"),
    ("dev", {"alarm5xxRatePercent": 0}, "alarm5xxRatePercent", "1 to 100"),
    ("dev", {"alarmLatencyP99Ms": 5}, "alarmLatencyP99Ms", "10 to 60000"),
    ("dev", {"alarmCpuPercent": 101}, "alarmCpuPercent", "10 to 100"),
    ("dev", {"alarmMemoryPercent": 5}, "alarmMemoryPercent", "10 to 100"),
    ("dev", {"alarmThrottles": 0}, "alarmThrottles", "1 to"),
    ("dev", {"alarmDbFreeStorageGb": 0}, "alarmDbFreeStorageGb", "1 to 65536"),
    ("dev", {"alarmDbFreeStorageGb": 20}, "alarmDbFreeStorageGb", "less than dbAllocated"),
    ("dev", {"alarmDbConnections": 0}, "alarmDbConnections", "1 to 100000"),
    ("dev", {"alarmCacheMemoryPercent": 9}, "alarmCacheMemoryPercent", "10 to 100"),
    ("dev", {"alarmCacheEvictions": -1}, "alarmCacheEvictions", "0 to"),
    # Secret rotation (docs/runbook.md, "Lifecycle").
    ("dev", {"databasePasswordRevision": 0}, "databasePasswordRevision", "1 to 1000000"),
    ("dev", {"cacheAuthTokenRevision": -2}, "cacheAuthTokenRevision", "1 to 1000000"),
    ("dev", {"apiTokenRevision": "two"}, "apiTokenRevision", "integer"),
    (
        "prod",
        {"cacheAuthTokenUpdateStrategy": "DELETE"},
        "cacheAuthTokenUpdateStrategy",
        "ROTATE, SET",
    ),
]


@pytest.mark.parametrize(
    ("stack", "overrides", "key", "allowed"),
    REJECTIONS,
    ids=[f"{stack}-{key}-{i}" for i, (stack, _, key, _) in enumerate(REJECTIONS)],
)
def test_stack_config_rejects_bad_values(
    stack: str, overrides: dict[str, Any], key: str, allowed: str
) -> None:
    """A4/B13/C3/C4/C5: each bad value is refused; the message names key, value and allowed."""
    with pytest.raises(ConfigError) as caught:
        load(stack, **overrides)
    message = str(caught.value)
    assert repr(key) in message or key in message
    assert allowed in message
    value = overrides.get(key)
    if value is not None and not isinstance(value, list):
        assert str(value) in message


def test_rotation_keys_default_to_the_first_revision_and_rotate() -> None:
    """Revision 1 and ROTATE are what stacks created before these keys had."""
    cfg = load("prod")
    assert (cfg.database_password_revision, cfg.cache_auth_token_revision) == (1, 1)
    assert cfg.api_token_revision == 1
    assert cfg.cache_auth_token_update_strategy == "ROTATE"
    assert load("dev", cacheAuthTokenUpdateStrategy="set").cache_auth_token_update_strategy == "SET"


def test_prod_with_http_allowed_needs_no_certificate() -> None:
    """allowHttp is the written-down exception to the certificate rule."""
    assert load("prod", certificateArn="", allowHttp=True).certificate_arn == ""


def test_custom_domain_is_both_keys_and_replaces_the_prod_certificate() -> None:
    """domainName + hostedZoneId: a managed certificate, so prod needs no certificateArn."""
    dev = load("dev", domainName="API.Example.com", hostedZoneId="Z0123456789ABCDEFGHIJ")
    assert dev.domain_name == "api.example.com"
    assert dev.custom_domain
    assert dev.managed_certificate
    prod = load(
        "prod", certificateArn="", domainName="api.example.com", hostedZoneId="Z0123456789AB"
    )
    assert prod.managed_certificate
    # An explicit certificateArn wins: the domain is served with it, none is issued.
    explicit = load("prod", domainName="api.example.com", hostedZoneId="Z0123456789AB")
    assert explicit.custom_domain
    assert not explicit.managed_certificate
    assert not load("dev").custom_domain


def test_alarm_defaults_and_email_are_accepted() -> None:
    """Defaults are sane and valid; an e-mail address is accepted."""
    cfg = load("dev", alarmEmail="ops+alerts@example.co.uk")
    assert cfg.alarm_email == "ops+alerts@example.co.uk"
    assert cfg.alarm_5xx_rate_percent == 5
    assert cfg.alarm_db_free_storage_gb < cfg.db_allocated_storage_gb
    assert load("prod").alarm_db_connections > load("dev").alarm_db_connections


def test_config_error_is_a_value_error() -> None:
    """Callers may catch ValueError."""
    assert issubclass(ConfigError, ValueError)


# ------------------------------------------------------------- via pulumi.Config


def test_load_reads_pulumi_config_and_refuses_unknown_keys() -> None:
    """StackConfig.load() reads the namespaced values and catches a misspelt key."""
    config = harness.layered_config("dev", overrides={"azCount": 3})
    harness.ensure_event_loop()
    pulumi.runtime.set_mocks(harness.RecordingMocks(), project=PROJECT, stack="dev")
    pulumi.runtime.set_all_config(config, [])
    try:
        cfg = StackConfig.load()
        assert cfg.az_count == 3
        assert cfg.region == "eu-west-1"
        assert cfg.stack == pulumi.get_stack()
        pulumi.runtime.set_all_config({**config, f"{PROJECT}:azcount": "2"}, [])
        with pytest.raises(ConfigError, match="azcount"):
            StackConfig.load()
    finally:
        pulumi.runtime.set_all_config({}, [])


def test_c5_program_refuses_prod_without_allowed_accounts() -> None:
    """C5: the program itself stops before creating anything in an unpinned prod stack."""
    with pytest.raises(HarnessError, match="aws:allowedAccountIds"):
        harness.build_stack_uncached("prod", **{"aws:allowedAccountIds": None})


def test_c5_prod_stack_file_pins_account_ids_for_the_provider() -> None:
    """C5: aws:allowedAccountIds is a list of 12-digit ids the AWS provider enforces."""
    raw = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    ids = raw["aws:allowedAccountIds"]
    assert isinstance(ids, list)
    assert ids
    assert all(isinstance(i, str) and len(i) == 12 and i.isdigit() for i in ids)


def test_certificate_from_the_stack_region_is_accepted() -> None:
    """The region check compares with ``aws:region``, not a fixed region."""
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"
    assert load("dev", **{"aws:region": "us-east-1", "certificateArn": arn}).certificate_arn == arn
