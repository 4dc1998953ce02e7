"""Restore into a new instance, driven by config (docs/runbook.md, "Restore").

Each sequence is prod's real program under mocks, every deploy continuing
from the previous one's state (``prior``) and diffed as the engine diffs it:

- step 1 (``dbRestoreSource``) only creates: the restored instance and its log
  groups; nothing that exists is updated, replaced or deleted;
- step 2 (``dbServing: restored``) only updates or replaces compute and
  operations resources (the service's database host or RDS Proxy target, the
  Redis database index, alarms, dashboard); no data resource is touched;
- retiring (``dbPrimaryRetired``) deletes the primary instance and nothing else.

The restored instance is built by the same step as the primary, and every
invariant of the primary holds for it (B9, B13, B19, B20, C2, C3, C7).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest

from infra.config import ConfigError, StackConfig
from infra.documents import restore
from tests.infra import harness
from tests.infra.harness import StackResult
from tests.infra.lifecycle import Diff, diff_runs, under_component
from tests.infra.policies.helpers import all_violations

INSTANCE = "aws:rds/instance:Instance"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"
PROXY_TARGET = "aws:rds/proxyTarget:ProxyTarget"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
DATA_COMPONENTS = (
    "fastapi-on-aws:network:Network",
    "fastapi-on-aws:database:Database",
    "fastapi-on-aws:cache:Cache",
    "fastapi-on-aws:secrets:Secrets",
    "fastapi-on-aws:registry:Registry",
)
PRIMARY_ID = "fastapi-on-aws-prod-postgres"
RESTORED_ID = "fastapi-on-aws-prod-postgres-restored"
PRIMARY = "database-instance"
RESTORED = "database-restored-instance"
REGION = "eu-west-1"

# (compute, dbRestoreSource): both shapes, both kinds of source.
SEQUENCES = (
    ("fargate", "snapshot:fastapi-on-aws-prod-before-incident"),
    ("lambda", "time:2024-05-01T12:00:00Z"),
    ("fargate", "time:latest"),
)


@dataclass(frozen=True)
class Sequence:
    """The four deploys of a restore: before, restored, switched, primary retired."""

    compute: str
    source: str
    before: StackResult
    restored: StackResult
    switched: StackResult
    retired: StackResult


def _diff(before: StackResult, after: StackResult) -> Diff:
    return diff_runs(harness.record_dump(before), harness.record_dump(after))


def _data_urns(result: StackResult) -> set[str]:
    dump = harness.record_dump(result)
    return set().union(*(under_component(dump, component) for component in DATA_COMPONENTS))


@pytest.fixture(
    scope="module", params=SEQUENCES, ids=[f"{c}-{s.split(':')[0]}" for c, s in SEQUENCES]
)
def sequence(request: pytest.FixtureRequest) -> Sequence:
    """prod: a deploy, then the restore's steps, each from the previous state."""
    compute, source = request.param
    before = harness.build_stack_uncached("prod", compute)
    keys: dict[str, object] = {"dbRestoreSource": source}
    restored = harness.build_stack_uncached("prod", compute, prior=before, **keys)
    keys["dbServing"] = "restored"
    switched = harness.build_stack_uncached("prod", compute, prior=restored, **keys)
    keys["dbPrimaryRetired"] = True
    retired = harness.build_stack_uncached("prod", compute, prior=switched, **keys)
    return Sequence(compute, source, before, restored, switched, retired)


# ------------------------------------------------------------------ the keys


def _config(**values: object) -> StackConfig:
    return StackConfig.from_values("dev", {"aws:region": REGION, **values})


def test_the_restore_keys_default_to_no_restore() -> None:
    """Defaults: no restored instance, the primary serves, Redis database 0."""
    cfg = _config()
    assert (cfg.db_restore_source, cfg.db_serving, cfg.db_primary_retired) == ("", "primary", False)
    assert cfg.restore_source is None
    stack = harness.build_stack("prod", "fargate")
    assert [record.name for record in stack.find(INSTANCE)] == [PRIMARY]
    assert not [record for record in stack.find(LOG_GROUP) if "restored" in record.name]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snapshot:before-incident", restore.RestoreSource(snapshot="before-incident")),
        (
            "snapshot:rds:fastapi-on-aws-prod-postgres-2024-05-01-03-10",
            restore.RestoreSource(snapshot="rds:fastapi-on-aws-prod-postgres-2024-05-01-03-10"),
        ),
        (
            f"snapshot:arn:aws:rds:{REGION}:123456789012:snapshot:shared-copy",
            restore.RestoreSource(
                snapshot=f"arn:aws:rds:{REGION}:123456789012:snapshot:shared-copy"
            ),
        ),
        ("time:2024-02-29T23:59:59Z", restore.RestoreSource(restore_time="2024-02-29T23:59:59Z")),
        ("time:latest", restore.RestoreSource(latest=True)),
    ],
)
def test_restore_sources_parse(text: str, expected: restore.RestoreSource) -> None:
    """The accepted spellings of dbRestoreSource and what each restores from."""
    assert _config(dbRestoreSource=text).restore_source == expected


@pytest.mark.parametrize(
    ("values", "key", "hint"),
    [
        ({"dbRestoreSource": "before-incident"}, "dbRestoreSource", "snapshot:"),
        ({"dbRestoreSource": "snapshot:two--hyphens"}, "dbRestoreSource", "single hyphens"),
        ({"dbRestoreSource": "snapshot:ends-"}, "dbRestoreSource", "single hyphens"),
        (
            {"dbRestoreSource": "snapshot:arn:aws:rds:us-east-1:123456789012:snapshot:x"},
            "dbRestoreSource",
            "copy it to eu-west-1",
        ),
        ({"dbRestoreSource": "time:2024-02-30T00:00:00Z"}, "dbRestoreSource", "UTC"),
        ({"dbRestoreSource": "time:2024-05-01T12:00:00+02:00"}, "dbRestoreSource", "UTC"),
        ({"dbRestoreSource": "time:yesterday"}, "dbRestoreSource", "time:latest"),
        ({"dbServing": "restored"}, "dbServing", "needs dbRestoreSource"),
        ({"dbServing": "replica", "dbRestoreSource": "time:latest"}, "dbServing", "primary"),
        (
            {"dbPrimaryRetired": "true", "dbRestoreSource": "time:latest"},
            "dbPrimaryRetired",
            "only while dbServing is 'restored'",
        ),
    ],
)
def test_restore_keys_refuse_a_bad_value_or_a_skipped_step(
    values: Mapping[str, object], key: str, hint: str
) -> None:
    """Each error names the key, the value and what is allowed."""
    with pytest.raises(ConfigError, match=re.escape(repr(key))) as raised:
        _config(**values)
    assert hint in str(raised.value)


# ----------------------------------------------------------------- the steps


def test_step_1_only_creates_the_restored_instance_and_its_log_groups(sequence: Sequence) -> None:
    """Setting dbRestoreSource creates; it updates, replaces or deletes nothing."""
    diff = _diff(sequence.before, sequence.restored)
    assert not diff.updates, diff.describe()
    assert not diff.replaces, diff.describe()
    assert not diff.deletes, diff.describe()
    names = sorted(urn.rsplit("::", 1)[1] for urn in diff.creates)
    assert names == [RESTORED, "database-restored-log-postgresql", "database-restored-log-upgrade"]


def test_step_2_moves_compute_alarms_and_dashboard_and_touches_no_data(sequence: Sequence) -> None:
    """Setting dbServing=restored: updates and compute replacements only, no data resource."""
    diff = _diff(sequence.restored, sequence.switched)
    assert not diff.creates, diff.describe()
    assert not diff.deletes, diff.describe()
    assert not diff.changed & _data_urns(sequence.switched), diff.describe()
    changed_types = {urn.split("::")[2].rsplit("$", 1)[-1] for urn in diff.changed}
    expected = {ALARM, DASHBOARD} | (
        {TASK_DEFINITION} if sequence.compute == "fargate" else {FUNCTION, PROXY_TARGET}
    )
    assert changed_types == expected, diff.describe()
    # The alarms on the database, exactly, follow it.
    alarms = {urn.rsplit("::", 1)[1] for urn in diff.changed if f"${ALARM}::" in urn}
    assert alarms == {
        "monitoring-alarm-db-connections-high",
        "monitoring-alarm-db-cpu-high",
        "monitoring-alarm-db-free-storage-low",
    }


def test_retiring_deletes_the_primary_instance_only(sequence: Sequence) -> None:
    """dbPrimaryRetired: one delete (the primary, its final snapshot kept), nothing else."""
    diff = _diff(sequence.switched, sequence.retired)
    assert not diff.creates, diff.describe()
    assert not diff.updates, diff.describe()
    assert not diff.replaces, diff.describe()
    assert [urn.rsplit("::", 1)[1] for urn in diff.deletes] == [PRIMARY]
    primary = sequence.switched.one(INSTANCE, PRIMARY).inputs
    assert primary["skipFinalSnapshot"] is False
    assert primary["finalSnapshotIdentifier"] == f"{PRIMARY_ID}-final"
    # Its exported logs stay until their retention expires them.
    groups = {record.inputs.get("name") for record in sequence.retired.find(LOG_GROUP)}
    assert f"/aws/rds/instance/{PRIMARY_ID}/postgresql" in groups


def test_every_step_passes_every_policy(sequence: Sequence) -> None:
    """The guardrails hold before, during and after a restore (A9 B9 B13 B19 B20 C2 C3 C7)."""
    for result in (sequence.restored, sequence.switched, sequence.retired):
        assert all_violations(result) == []


# ------------------------------------------- what the service and alarms use


def _environment(result: StackResult, compute: str) -> dict[str, str]:
    if compute == "fargate":
        (container,) = [
            c
            for c in json.loads(result.one(TASK_DEFINITION).inputs["containerDefinitions"])
            if c["name"] == "app"
        ]
        return {item["name"]: item["value"] for item in container["environment"]}
    variables: dict[str, str] = result.one(FUNCTION, "app-function").inputs["environment"][
        "variables"
    ]
    return variables


def _dimension(result: StackResult, alarm: str) -> str:
    inputs = result.one(ALARM, f"monitoring-alarm-{alarm}").inputs
    return str(inputs["dimensions"]["DBInstanceIdentifier"])


def test_the_service_follows_the_serving_instance(sequence: Sequence) -> None:
    """Step 1 keeps the primary; step 2 serves the restored one (host or proxy target)."""
    for result, serving, name in (
        (sequence.restored, PRIMARY_ID, PRIMARY),
        (sequence.switched, RESTORED_ID, RESTORED),
    ):
        address = result.one(INSTANCE, name).outputs["address"]
        environment = _environment(result, sequence.compute)
        if sequence.compute == "fargate":
            assert f"@{address}:5432/" in environment["DATABASE_URL"]
        else:
            assert result.one(PROXY_TARGET).inputs["dbInstanceIdentifier"] == serving
        assert _dimension(result, "db-cpu-high") == serving
        body = result.one(DASHBOARD).inputs["dashboardBody"]
        assert serving in body
        other = RESTORED_ID if serving == PRIMARY_ID else PRIMARY_ID
        assert f'"{other}"' not in body
    assert (
        sequence.switched.outputs["databaseAddress"]
        == sequence.switched.one(INSTANCE, RESTORED).outputs["address"]
    )


def test_the_cache_moves_to_an_empty_redis_database(sequence: Sequence) -> None:
    """No entry read from the old database is served: another Redis database, same group."""
    before = _environment(sequence.restored, sequence.compute)["REDIS_URL"]
    after = _environment(sequence.switched, sequence.compute)["REDIS_URL"]
    assert before.endswith(":6379/0")
    assert after == before.removesuffix("/0") + "/1"
    assert sequence.switched.one(REDIS).inputs == sequence.before.one(REDIS).inputs


def test_the_proxy_target_is_freed_before_it_moves() -> None:
    """A proxy's target group holds one instance: with a restore, the target moves delete-first."""
    plain = harness.build_stack("prod", "lambda").one(PROXY_TARGET)
    with_restore = harness.build_stack("prod", "lambda", dbRestoreSource="time:latest")
    assert plain.delete_before_replace is False
    assert with_restore.one(PROXY_TARGET).delete_before_replace is True


# --------------------------------------------- the restored instance itself


# Inputs that may differ between the primary and the restored instance.
_OWN_INPUTS = frozenset(
    {"identifier", "finalSnapshotIdentifier", "snapshotIdentifier", "restoreToPointInTime"}
)


def test_the_restored_instance_is_built_like_the_primary(sequence: Sequence) -> None:
    """Same groups, encryption, TLS parameter group, backups, protection, telemetry, tags."""
    primary = sequence.restored.one(INSTANCE, PRIMARY)
    restored = sequence.restored.one(INSTANCE, RESTORED)
    shared = {k: v for k, v in primary.inputs.items() if k not in _OWN_INPUTS}
    assert {k: v for k, v in restored.inputs.items() if k not in _OWN_INPUTS} == shared
    inputs = restored.inputs
    assert inputs["identifier"] == RESTORED_ID
    assert inputs["finalSnapshotIdentifier"] == f"{RESTORED_ID}-final"
    assert inputs["storageEncrypted"] is True
    assert inputs["publiclyAccessible"] is False
    assert (inputs["deletionProtection"], inputs["skipFinalSnapshot"]) == (True, False)
    assert (inputs["multiAz"], inputs["backupRetentionPeriod"] >= 7) == (True, True)
    assert inputs["tags"] == {
        "project": "fastapi-on-aws",
        "stack": "prod",
        "compute": sequence.compute,
    }
    assert restored.protect is True
    assert restored.delete_before_replace is True
    assert restored.parent == primary.parent
    # Its own exported-log groups exist first, with the stack's retention (B13).
    groups = {
        record.inputs["name"]: record
        for record in sequence.restored.find(LOG_GROUP)
        if record.name.startswith("database-restored-log-")
    }
    assert set(groups) == {
        f"/aws/rds/instance/{RESTORED_ID}/{log}" for log in ("postgresql", "upgrade")
    }
    for group in groups.values():
        assert group.inputs["retentionInDays"] >= 365
        assert group.urn in restored.depends_on


def test_the_restore_source_becomes_the_rds_restore_call(sequence: Sequence) -> None:
    """Snapshot: RestoreDBInstanceFromDBSnapshot; time: RestoreDBInstanceToPointInTime."""
    restored = sequence.restored.one(INSTANCE, RESTORED)
    model = botocore.session.get_session().get_service_model("rds")

    def members(operation: str) -> set[str]:
        return set(model.operation_model(operation).input_shape.members)

    source = restore.parse_source(sequence.source, REGION)
    assert source is not None
    if source.snapshot is not None:
        assert restored.inputs["snapshotIdentifier"] == source.snapshot
        assert "restoreToPointInTime" not in restored.inputs
        assert "DBSnapshotIdentifier" in members("RestoreDBInstanceFromDBSnapshot")
    else:
        point: dict[str, Any] = restored.inputs["restoreToPointInTime"]
        assert "snapshotIdentifier" not in restored.inputs
        assert point["sourceDbInstanceIdentifier"] == PRIMARY_ID
        if source.latest:
            assert point == {
                "sourceDbInstanceIdentifier": PRIMARY_ID,
                "useLatestRestorableTime": True,
            }
        else:
            assert point["restoreTime"] == source.restore_time
            assert "useLatestRestorableTime" not in point
        assert {"SourceDBInstanceIdentifier", "RestoreTime", "UseLatestRestorableTime"} <= members(
            "RestoreDBInstanceToPointInTime"
        )
        primary_urn = sequence.restored.one(INSTANCE, PRIMARY).urn
        assert primary_urn in restored.depends_on
    # The restore keeps the snapshot's password; the provider then sets the
    # stack's own with ModifyDBInstance, so SSM and the database agree.
    assert (
        restored.inputs["password"] == sequence.restored.one(INSTANCE, PRIMARY).inputs["password"]
    )
    assert "MasterUserPassword" in members("ModifyDBInstance")
    # Read once: a later change of dbRestoreSource never replaces (empties) it.
    assert set(restored.ignore_changes) == {"snapshotIdentifier", "restoreToPointInTime"}
