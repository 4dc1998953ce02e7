"""Database and cache: correctness (A9), security (B9, B10), data safety (C3, C4, C6)."""

from __future__ import annotations

import re

import botocore.session
import pytest

from infra.config import POSTGRES_MAJOR_VERSIONS
from tests.infra import harness
from tests.infra.checks import SECURITY_GROUP
from tests.infra.conftest import BuildStack
from tests.infra.harness import StackResult

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


def test_a9_rds_engine_name_and_final_snapshot(variant: StackResult) -> None:
    """A9: pinned valid major, alphanumeric db_name, final snapshot id whenever one is taken."""
    db = variant.one(INSTANCE).inputs
    assert db["engine"] == "postgres"
    assert db["engineVersion"] in POSTGRES_MAJOR_VERSIONS
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,62}", db["dbName"])
    assert (db["dbName"], db["username"], db["port"]) == ("app", "app", 5432)
    if db["skipFinalSnapshot"] is False:
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,254}", db["finalSnapshotIdentifier"])
        assert not db["finalSnapshotIdentifier"].endswith("-")
    family = variant.one(PARAMETER_GROUP).inputs["family"]
    assert family == f"postgres{db['engineVersion'].split('.')[0]}"


def test_b9_rds_private_encrypted_tls_backed_up(variant: StackResult) -> None:
    """B9: not public, storage encrypted, rds.force_ssl=1, backups, minor upgrades on."""
    db = variant.one(INSTANCE).inputs
    assert db["publiclyAccessible"] is False
    assert db["storageEncrypted"] is True
    assert db["autoMinorVersionUpgrade"] is True
    assert db["backupRetentionPeriod"] >= (7 if variant.stack == "prod" else 1)
    params = variant.one(PARAMETER_GROUP)
    assert db["parameterGroupName"] == params.outputs["name"]
    assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"} in params.inputs[
        "parameters"
    ]
    group = variant.one(SECURITY_GROUP, "database-sg")
    assert db["vpcSecurityGroupIds"] == [group.id]
    assert db["dbSubnetGroupName"] == variant.one("aws:rds/subnetGroup:SubnetGroup").outputs["name"]


def test_b10_redis_encrypted_authenticated_own_subnet_group(variant: StackResult) -> None:
    """B10: at rest and in transit encryption, AUTH token, its own subnet group and SG."""
    redis = variant.one(REPLICATION_GROUP).inputs
    assert redis["engine"] == "redis"
    assert redis["engineVersion"] == "7.1"
    assert redis["atRestEncryptionEnabled"] is True
    assert redis["transitEncryptionEnabled"] is True
    assert len(redis["authToken"]) >= 16
    subnet_group = variant.one("aws:elasticache/subnetGroup:SubnetGroup")
    assert redis["subnetGroupName"] == subnet_group.outputs["name"]
    assert redis["securityGroupIds"] == [variant.one(SECURITY_GROUP, "cache-sg").id]
    assert redis["port"] == 6379


def test_c3_prod_database_is_protected(build_stack: BuildStack) -> None:
    """C3: deletion protection, final snapshot, Multi-AZ, >= 7 days of backups, protect=True."""
    for compute in ("fargate", "lambda"):
        db = build_stack("prod", compute).one(INSTANCE)
        assert db.inputs["deletionProtection"] is True
        assert db.inputs["skipFinalSnapshot"] is False
        assert db.inputs["finalSnapshotIdentifier"]
        assert db.inputs["multiAz"] is True
        assert db.inputs["backupRetentionPeriod"] >= 7
        assert db.protect is True
        assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_dev_database_is_disposable(build_stack: BuildStack) -> None:
    """dev: the written-down exceptions (no deletion protection, no final snapshot, no protect)."""
    db = build_stack("dev").one(INSTANCE)
    assert db.inputs["deletionProtection"] is False
    assert db.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db.inputs
    assert db.protect is False
    assert build_stack("dev").one(REPLICATION_GROUP).protect is False


def test_c4_prod_cache_fails_over_and_keeps_snapshots(build_stack: BuildStack) -> None:
    """C4: automatic failover, Multi-AZ, >= 2 nodes, snapshots kept, protect=True."""
    for compute in ("fargate", "lambda"):
        redis = build_stack("prod", compute).one(REPLICATION_GROUP)
        assert redis.inputs["automaticFailoverEnabled"] is True
        assert redis.inputs["multiAzEnabled"] is True
        assert redis.inputs["numCacheClusters"] >= 2
        assert redis.inputs["snapshotRetentionLimit"] >= 1
        # A teardown keeps the data too: deleting the group takes a final snapshot.
        assert redis.inputs["finalSnapshotIdentifier"] == "fastapi-on-aws-prod-redis-final"
        assert redis.protect is True


def test_dev_cache_takes_no_final_snapshot(build_stack: BuildStack) -> None:
    """dev is disposable: `pulumi destroy` leaves no snapshot behind to pay for."""
    assert "finalSnapshotIdentifier" not in build_stack("dev").one(REPLICATION_GROUP).inputs


def test_single_node_cache_has_no_failover(build_stack: BuildStack) -> None:
    """AWS rejects automatic failover with one node; dev has one node."""
    redis = build_stack("dev").one(REPLICATION_GROUP).inputs
    assert redis["numCacheClusters"] == 1
    assert redis["automaticFailoverEnabled"] is False
    assert redis["multiAzEnabled"] is False


def _api_members(service: str, operation: str) -> set[str]:
    model = botocore.session.get_session().get_service_model(service)
    return set(model.operation_model(operation).input_shape.members)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_c6_rotating_secrets_updates_data_resources_in_place(
    build_stack: BuildStack, stack: str
) -> None:
    """C6: new secret values change only fields the Modify APIs accept; URNs stay."""
    before, after = build_stack(stack), build_stack(stack, secret_salt="rotated")
    for token, field, service, operation, member in (
        (INSTANCE, "password", "rds", "ModifyDBInstance", "MasterUserPassword"),
        (REPLICATION_GROUP, "authToken", "elasticache", "ModifyReplicationGroup", "AuthToken"),
    ):
        old, new = before.one(token), after.one(token)
        assert old.urn == new.urn
        changed = {
            k
            for k in old.inputs.keys() | new.inputs.keys()
            if old.inputs.get(k) != new.inputs.get(k)
        }
        assert changed == {field}, token
        assert member in _api_members(service, operation)
        assert field not in new.replace_on_changes
        assert field not in new.ignore_changes
    redis = after.one(REPLICATION_GROUP).inputs
    assert redis["authTokenUpdateStrategy"] == "ROTATE"
    assert "AuthTokenUpdateStrategy" in _api_members("elasticache", "ModifyReplicationGroup")


def test_data_security_groups_are_created_without_rules(variant: StackResult) -> None:
    """docs/contracts.md: the data layer's groups have no rules of their own."""
    for suffix in ("database-sg", "cache-sg"):
        group = variant.one(SECURITY_GROUP, suffix)
        assert variant.parent_of(group) is not None
        assert not [r for r in variant.children_of(variant.parent_of(group)) if "Rule" in r.type]


def test_c4_cache_final_snapshot_name_is_valid_for_any_stack_name() -> None:
    """Stack names may hold uppercase, '_' and '.' (infra/config.py ``_STACK``); the
    final snapshot name must still be lowercase letters, digits and single hyphens."""
    stack = "Prod_EU.2"
    result = harness.run_program(stack, harness.layered_config("prod", "fargate"))
    name = result.one(REPLICATION_GROUP).inputs["finalSnapshotIdentifier"]
    assert name == "fastapi-on-aws-prod-eu-2-redis-final"
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name)


def test_b20_iam_database_auth_on_the_instance_but_the_proxy_keeps_its_secret(
    variant: StackResult,
) -> None:
    """B20: IAM authentication is enabled on the instance in both shapes; the Lambda
    shape's proxy still signs in with the Secrets Manager password and does not
    require IAM, because the service connects with a password (docs/policies.md)."""
    assert variant.one(INSTANCE).inputs["iamDatabaseAuthenticationEnabled"] is True
    for proxy in variant.find("aws:rds/proxy:Proxy"):
        (auth,) = proxy.inputs["auths"]
        assert (auth["authScheme"], auth["iamAuth"]) == ("SECRETS", "DISABLED")
    if variant.find("aws:lambda/function:Function"):
        assert variant.find("aws:rds/proxy:Proxy")


def _proxy_password(result: StackResult) -> str:
    import json

    version = result.one("aws:secretsmanager/secretVersion:SecretVersion")
    return str(json.loads(version.inputs["secretString"])["password"])


def test_c8_proxy_secret_rotates_with_the_database_password(build_stack: BuildStack) -> None:
    """C8: bumping databasePasswordRevision writes the new password to the instance and
    to the proxy's secret in the same deploy (an update of each, same URNs), and no
    Secrets Manager rotation exists that could change it apart from the program."""
    before = build_stack("prod", "lambda")
    after = build_stack("prod", "lambda", databasePasswordRevision=2)
    assert _proxy_password(before) == before.one(INSTANCE).inputs["password"]
    assert _proxy_password(after) == after.one(INSTANCE).inputs["password"]
    assert _proxy_password(after) != _proxy_password(before)
    for token in ("aws:secretsmanager/secretVersion:SecretVersion", INSTANCE):
        assert before.one(token).urn == after.one(token).urn
    assert (
        "secretString"
        not in after.one("aws:secretsmanager/secretVersion:SecretVersion").replace_on_changes
    )
    for stack in ("dev", "prod"):
        assert not build_stack(stack, "lambda").find(
            "aws:secretsmanager/secretRotation:SecretRotation"
        )
