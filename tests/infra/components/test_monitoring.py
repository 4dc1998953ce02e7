"""Alarms, the alarm topic, rollbacks on alarms and the dashboard (issue 8, items 2-5).

Pure tests of ``infra/documents/observability.py`` (specs, PutMetricAlarm requests
against botocore's CloudWatch model, the dashboard and its validator), then
the four stacks under mocks: every alarm watches a metric of a resource that
exists in the stack, deployment alarms name existing alarms, the topic is
encrypted with a key CloudWatch may use, and the operations layer keeps its
URNs across a compute switch without touching the data layer (C1).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.monitoring import (
    DASHBOARD_TYPE,
    MONITORING_TYPE,
    topic_key_policy,
    topic_policy,
)
from infra.documents import observability as obs
from tests.infra import test_switch
from tests.infra.aws_models import request_errors
from tests.infra.conftest import BuildStack
from tests.infra.harness import ACCOUNT_ID, REGION, ResourceRecord, StackResult

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KMS_KEY = "aws:kms/key:Key"
ECS_SERVICE = "aws:ecs/service:Service"

# The documented dimensions of each metric the alarms use (CloudWatch's
# "metrics and dimensions" pages of ALB, ECS, Lambda, API Gateway, RDS, ElastiCache).
DOCUMENTED: dict[tuple[str, str], set[frozenset[str]]] = {
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): {frozenset({"LoadBalancer"})},
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): {frozenset({"LoadBalancer"})},
    ("AWS/ApplicationELB", "RequestCount"): {frozenset({"LoadBalancer"})},
    ("AWS/ApplicationELB", "TargetResponseTime"): {frozenset({"LoadBalancer"})},
    ("AWS/ApplicationELB", "UnHealthyHostCount"): {frozenset({"LoadBalancer", "TargetGroup"})},
    ("AWS/ECS", "CPUUtilization"): {frozenset({"ClusterName", "ServiceName"})},
    ("AWS/ECS", "MemoryUtilization"): {frozenset({"ClusterName", "ServiceName"})},
    ("AWS/Lambda", "Errors"): {frozenset({"FunctionName"})},
    ("AWS/Lambda", "Invocations"): {frozenset({"FunctionName"})},
    ("AWS/Lambda", "Throttles"): {frozenset({"FunctionName"})},
    ("AWS/Lambda", "Duration"): {frozenset({"FunctionName"})},
    ("AWS/ApiGateway", "5xx"): {frozenset({"ApiId"})},
    ("AWS/ApiGateway", "Count"): {frozenset({"ApiId"})},
    ("AWS/RDS", "CPUUtilization"): {frozenset({"DBInstanceIdentifier"})},
    ("AWS/RDS", "FreeStorageSpace"): {frozenset({"DBInstanceIdentifier"})},
    ("AWS/RDS", "DatabaseConnections"): {frozenset({"DBInstanceIdentifier"})},
    ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage"): {frozenset({"CacheClusterId"})},
    ("AWS/ElastiCache", "Evictions"): {frozenset({"CacheClusterId"})},
}
EXPECTED_KEYS = {
    "fargate": {
        "alb-5xx-rate",
        "unhealthy-targets",
        "target-p99-latency",
        "ecs-cpu-high",
        "ecs-memory-high",
    },
    "lambda": {"lambda-error-rate", "api-5xx-rate", "lambda-throttles", "lambda-p99-duration"},
    "data": {"db-cpu-high", "db-free-storage-low", "db-connections-high"},
}
GATES = {"fargate": ["alb-5xx-rate", "unhealthy-targets"]}


def thresholds(*, production: bool) -> obs.Thresholds:
    """The default thresholds (Pulumi.yaml) for dev or prod."""
    return obs.Thresholds(
        production=production,
        error_rate_percent=5,
        latency_p99_ms=2000,
        cpu_percent=80,
        memory_percent=80,
        throttles=1,
        db_free_storage_gb=5,
        db_connections=80,
        cache_memory_percent=80,
        cache_evictions=100,
    )


def all_specs(*, production: bool, compute: str, nodes: int = 2) -> list[obs.AlarmSpec[str]]:
    """Every spec of one stack shape, with readable placeholder dimension values."""
    t = thresholds(production=production)
    shape = (
        obs.fargate_alarms(
            t, load_balancer="app/lb/1", target_group="targetgroup/tg/2", cluster="c", service="s"
        )
        if compute == "fargate"
        else obs.lambda_alarms(t, function="fn", api="abc123", timeout_seconds=20)
    )
    return [
        *shape,
        *obs.database_alarms(t, instance="db"),
        *obs.cache_alarms(t, nodes=[obs.cache_node_id("rg", n) for n in range(1, nodes + 1)]),
    ]


SHAPES = [
    (production, compute) for production in (False, True) for compute in ("fargate", "lambda")
]
SHAPE_IDS = [f"{'prod' if p else 'dev'}-{c}" for p, c in SHAPES]
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alarms"


# --- pure: the specs ---------------------------------------------------------------------


@pytest.mark.parametrize(("production", "compute"), SHAPES, ids=SHAPE_IDS)
def test_specs_name_documented_metrics_and_dimensions(production: bool, compute: str) -> None:
    """Every metric is one CloudWatch publishes, with exactly its documented dimensions."""
    specs = all_specs(production=production, compute=compute)
    keys = [spec.key for spec in specs]
    assert len(keys) == len(set(keys)), "alarm keys are unique"
    assert EXPECTED_KEYS[compute] | EXPECTED_KEYS["data"] <= set(keys)
    for spec in specs:
        assert spec.group in obs.GROUPS
        assert (spec.expression is None) == (len(spec.metrics) == 1), spec.key
        for metric in spec.metrics:
            names = frozenset(name for name, _ in metric.dimensions)
            assert names in DOCUMENTED[(metric.namespace, metric.name)], (spec.key, metric.name)
            assert metric.stat in obs.PLAIN_STATISTICS or metric.percentile


@pytest.mark.parametrize(("production", "compute"), SHAPES, ids=SHAPE_IDS)
def test_missing_data_never_alarms_in_dev(production: bool, compute: str) -> None:
    """Dev treats missing data as not breaching; prod keeps saturation alarms' state."""
    specs = all_specs(production=production, compute=compute)
    missing = {spec.key: spec.treat_missing_data for spec in specs}
    if not production:
        assert set(missing.values()) == {"notBreaching"}
    else:
        assert missing["db-free-storage-low"] == "missing"
        assert missing["cache-memory-high-1"] == "missing"
    # Rates and gates: no traffic is never an error, in any environment.
    for spec in specs:
        if spec.gates_deployments or spec.expression is not None:
            assert spec.treat_missing_data == "notBreaching", spec.key


def test_thresholds_follow_config_and_units() -> None:
    """ms → s for ALB latency, GiB → bytes for storage, 90 % of the Lambda timeout."""
    t = thresholds(production=False)
    by_key = {spec.key: spec for spec in all_specs(production=False, compute="fargate")}
    assert by_key["target-p99-latency"].threshold == 2.0
    assert by_key["db-free-storage-low"].threshold == 5 * 1024**3
    assert by_key["db-free-storage-low"].comparison == "LessThanThreshold"
    assert by_key["alb-5xx-rate"].threshold == t.error_rate_percent
    lam = {
        spec.key: spec for spec in obs.lambda_alarms(t, function="f", api="a", timeout_seconds=10)
    }
    assert lam["lambda-p99-duration"].threshold == 9000
    assert [
        s.key for s in all_specs(production=False, compute="fargate") if s.gates_deployments
    ] == (GATES["fargate"])


def test_rate_expression_uses_every_metric_and_guards_division() -> None:
    """The metric math names m0..mN (all inputs) and yields 0 without traffic."""
    (rate,) = [s for s in all_specs(production=False, compute="fargate") if s.key == "alb-5xx-rate"]
    assert rate.expression == "IF(m2 > 0, 100 * (FILL(m0, 0) + FILL(m1, 0)) / m2, 0)"
    assert rate.metric_ids == ("m0", "m1", "m2")
    assert rate.metrics[-1].name == "RequestCount"


@pytest.mark.parametrize(("production", "compute"), SHAPES, ids=SHAPE_IDS)
def test_put_metric_alarm_requests_validate_against_botocore(
    production: bool, compute: str
) -> None:
    """Each spec as a PutMetricAlarm request passes botocore's CloudWatch model."""
    for spec in all_specs(production=production, compute=compute):
        request = obs.put_metric_alarm_request(
            spec, name=obs.alarm_name("dev", spec), topic_arn=TOPIC_ARN
        )
        assert request_errors("cloudwatch", "PutMetricAlarm", request) == [], spec.key


def test_botocore_check_catches_a_broken_request() -> None:
    """The model check is not vacuous: a bad comparison and a missing period are refused."""
    spec = all_specs(production=False, compute="fargate")[2]
    request = obs.put_metric_alarm_request(spec, name="x", topic_arn=TOPIC_ARN)
    request["ComparisonOperator"] = "Above"
    request["EvaluationPeriods"] = "five"
    errors = request_errors("cloudwatch", "PutMetricAlarm", request)
    assert any("ComparisonOperator" in e for e in errors)
    assert any("EvaluationPeriods" in e for e in errors)


def test_with_values_replaces_dimensions_in_order() -> None:
    """Resolving values keeps every spec and puts each value in its place."""
    specs = all_specs(production=False, compute="lambda", nodes=1)
    values = obs.dimension_values(specs)
    resolved = obs.with_values(specs, [v.upper() for v in values])
    assert obs.dimension_values(resolved) == [v.upper() for v in values]
    with pytest.raises(ValueError, match="one value per dimension"):
        obs.with_values(specs, values[:-1])


# --- pure: the dashboard -----------------------------------------------------------------


def dashboard(production: bool = False, compute: str = "fargate") -> dict[str, Any]:
    """The dashboard of one shape's specs."""
    specs = all_specs(production=production, compute=compute)
    names = {spec.key: obs.alarm_name("dev", spec) for spec in specs}
    return obs.dashboard_body(
        specs,
        title="t",
        region=REGION,
        alarm_names=names,
        alarm_arns={k: obs.alarm_arn("aws", REGION, ACCOUNT_ID, n) for k, n in names.items()},
    )


@pytest.mark.parametrize(("production", "compute"), SHAPES, ids=SHAPE_IDS)
def test_dashboard_is_drawn_from_the_alarm_specs(production: bool, compute: str) -> None:
    """One graph per alarm with its threshold line, grouped; one status widget of all alarms."""
    specs = all_specs(production=production, compute=compute)
    body = dashboard(production, compute)
    assert obs.dashboard_body_errors(body) == []
    graphs = {w["properties"]["title"]: w for w in body["widgets"] if w["type"] == "metric"}
    assert set(graphs) == {spec.title for spec in specs}
    for spec in specs:
        widget = graphs[spec.title]["properties"]
        assert widget["annotations"]["horizontal"][0]["value"] == spec.threshold
        rows = [row for row in widget["metrics"] if isinstance(row[0], str)]
        assert [(row[0], row[1]) for row in rows] == [(m.namespace, m.name) for m in spec.metrics]
    (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(specs)
    sections = [w["properties"]["markdown"] for w in body["widgets"] if w["height"] == 1]
    # Request rate, errors, latency, compute saturation, database and cache health.
    assert sections == [f"## {group}" for group in obs.GROUPS]
    requests = {
        row[1] for w in graphs.values() for row in w["properties"]["metrics"] if len(row) > 1
    }
    assert {"RequestCount"} <= requests or {"Invocations", "Count"} <= requests


def _broken(mutate: str) -> dict[str, Any]:
    body = dashboard()
    widgets = body["widgets"]
    metric = next(w for w in widgets if w["type"] == "metric")
    if mutate == "overflow":
        metric["x"] = 20
    elif mutate == "odd-dimensions":
        metric["properties"]["metrics"][0] = ["AWS/ECS", "CPUUtilization", "ClusterName"]
    elif mutate == "no-region":
        del metric["properties"]["region"]
    elif mutate == "bad-stat":
        metric["properties"]["stat"] = "Median"
    elif mutate == "bad-type":
        metric["type"] = "graph"
    elif mutate == "alarm-arn":
        next(w for w in widgets if w["type"] == "alarm")["properties"]["alarms"][0] = "name"
    elif mutate == "overlap":
        metric["y"] = 0
    elif mutate == "no-widgets":
        del body["widgets"]
    elif mutate == "bad-period":
        metric["properties"]["period"] = 90
    return body


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        ("overflow", "overflows the 24-column grid"),
        ("odd-dimensions", "pairs after the first two"),
        ("no-region", "region is required"),
        ("bad-stat", "is not a statistic"),
        ("bad-type", "is not one of"),
        ("alarm-arn", "is not an alarm ARN"),
        ("overlap", "overlaps"),
        ("no-widgets", "needs a widgets array"),
        ("bad-period", "multiple of 60"),
    ],
)
def test_dashboard_validator_catches_each_mistake(mutate: str, message: str) -> None:
    """The validator reports each break of the documented structure."""
    errors = obs.dashboard_body_errors(_broken(mutate))
    assert any(message in error for error in errors), errors


# --- pure: the documents -----------------------------------------------------------------


def test_topic_key_and_topic_policies_let_only_this_accounts_alarms_in() -> None:
    """The CMK lets CloudWatch encrypt and the topic lets it publish, for this account only."""
    key = topic_key_policy("aws", REGION, ACCOUNT_ID)
    topic = topic_policy(TOPIC_ARN, "aws", REGION, ACCOUNT_ID)
    for document in (key, topic):
        (cloudwatch,) = [
            s
            for s in document["Statement"]
            if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        ]
        condition = cloudwatch["Condition"]
        assert condition["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
        assert condition["ArnLike"]["aws:SourceArn"] == (
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:*"
        )
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} == set(key["Statement"][1]["Action"])
    assert topic["Statement"][0]["Action"] == "sns:Publish"
    assert topic["Statement"][0]["Resource"] == TOPIC_ARN


# --- the stacks --------------------------------------------------------------------------


def _number(value: Any) -> Any:
    """Protobuf hands integers over as floats: give the API model its integers back."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def request_from_inputs(record: ResourceRecord) -> dict[str, Any]:
    """The PutMetricAlarm request the provider sends for a recorded MetricAlarm."""
    i = record.inputs
    request: dict[str, Any] = {
        "AlarmName": i["name"],
        "AlarmDescription": i.get("alarmDescription"),
        "ActionsEnabled": i.get("actionsEnabled"),
        "AlarmActions": i.get("alarmActions"),
        "OKActions": i.get("okActions"),
        "EvaluationPeriods": _number(i["evaluationPeriods"]),
        "DatapointsToAlarm": _number(i.get("datapointsToAlarm")),
        "Threshold": i.get("threshold"),
        "ComparisonOperator": i["comparisonOperator"],
        "TreatMissingData": i.get("treatMissingData"),
    }
    if "metricQueries" in i:
        request["Metrics"] = [
            {
                "Id": query["id"],
                "ReturnData": query["returnData"],
                **({"Expression": query["expression"]} if "expression" in query else {}),
                **({"Label": query["label"]} if "label" in query else {}),
                **(
                    {
                        "MetricStat": {
                            "Metric": {
                                "Namespace": query["metric"]["namespace"],
                                "MetricName": query["metric"]["metricName"],
                                "Dimensions": [
                                    {"Name": k, "Value": v}
                                    for k, v in query["metric"]["dimensions"].items()
                                ],
                            },
                            "Period": _number(query["metric"]["period"]),
                            "Stat": query["metric"]["stat"],
                        }
                    }
                    if "metric" in query
                    else {}
                ),
            }
            for query in i["metricQueries"]
        ]
    else:
        request.update(
            Namespace=i["namespace"],
            MetricName=i["metricName"],
            Dimensions=[{"Name": k, "Value": v} for k, v in i["dimensions"].items()],
            Period=_number(i["period"]),
        )
        for key, api in (("statistic", "Statistic"), ("extendedStatistic", "ExtendedStatistic")):
            if key in i:
                request[api] = i[key]
    return {key: value for key, value in request.items() if value is not None}


def metrics_of(record: ResourceRecord) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of every metric a recorded alarm watches."""
    if "metricQueries" in record.inputs:
        return [
            (q["metric"]["namespace"], q["metric"]["metricName"], q["metric"]["dimensions"])
            for q in record.inputs["metricQueries"]
            if "metric" in q
        ]
    i = record.inputs
    return [(i["namespace"], i["metricName"], i["dimensions"])]


def existing_dimension_values(stack: StackResult) -> dict[str, set[str]]:
    """Dimension name → the values that name a resource of ``stack``."""
    values: dict[str, set[str]] = {
        name: set() for _, names in DOCUMENTED.items() for s in names for name in s
    }
    for record in stack.find("aws:lb/loadBalancer:LoadBalancer"):
        values["LoadBalancer"].add(record.outputs["arnSuffix"])
    for record in stack.find("aws:lb/targetGroup:TargetGroup"):
        values["TargetGroup"].add(record.outputs["arnSuffix"])
    for record in stack.find("aws:ecs/cluster:Cluster"):
        values["ClusterName"].add(record.outputs["name"])
    for record in stack.find(ECS_SERVICE):
        values["ServiceName"].add(record.outputs["name"])
    for record in stack.find("aws:lambda/function:Function"):
        values["FunctionName"].add(record.outputs["name"])
    for record in stack.find("aws:apigatewayv2/api:Api"):
        values["ApiId"].add(record.id)
    for record in stack.find("aws:rds/instance:Instance"):
        values["DBInstanceIdentifier"].add(record.outputs["identifier"])
    for record in stack.find("aws:elasticache/replicationGroup:ReplicationGroup"):
        group, count = record.outputs["replicationGroupId"], int(record.inputs["numCacheClusters"])
        # ElastiCache names a group's member clusters <group id>-001, -002, …
        values["CacheClusterId"] |= {f"{group}-{n:03d}" for n in range(1, count + 1)}
    return values


def alarms(stack: StackResult) -> dict[str, ResourceRecord]:
    """Alarm name → record."""
    return {record.inputs["name"]: record for record in stack.find(ALARM)}


def test_every_alarm_watches_a_resource_of_the_stack(variant: StackResult) -> None:
    """Each alarm's namespace/metric/dimensions are documented and name a resource in the stack."""
    existing = existing_dimension_values(variant)
    compute = variant.outputs["compute"]
    keys = {name.removeprefix(f"fastapi-on-aws-{variant.stack}-") for name in alarms(variant)}
    nodes = int(variant.config["fastapi-on-aws:cacheNodeCount"])
    cache_keys = {
        f"cache-{kind}-{n}" for kind in ("memory-high", "evictions") for n in range(1, nodes + 1)
    }
    assert keys == EXPECTED_KEYS[compute] | EXPECTED_KEYS["data"] | cache_keys
    covered: set[str] = set()
    for record in alarms(variant).values():
        for namespace, metric, dimensions in metrics_of(record):
            assert frozenset(dimensions) in DOCUMENTED[(namespace, metric)], record.name
            for name, value in dimensions.items():
                assert value in existing[name], (record.name, name, value)
                covered.add(name)
    # The data layer is watched in every shape; the shape's own resources too.
    assert {"DBInstanceIdentifier", "CacheClusterId"} <= covered
    shape_dims = {"fargate": {"LoadBalancer", "TargetGroup", "ClusterName", "ServiceName"},
                  "lambda": {"FunctionName", "ApiId"}}  # fmt: skip
    assert shape_dims[compute] <= covered


def test_recorded_alarms_are_valid_put_metric_alarm_requests(variant: StackResult) -> None:
    """What the provider would send for each alarm passes botocore's PutMetricAlarm model."""
    for record in variant.find(ALARM):
        request = request_from_inputs(record)
        assert request_errors("cloudwatch", "PutMetricAlarm", request) == [], record.name
        # Every alarm notifies the stack's one topic, on ALARM and back to OK.
        (topic,) = variant.find(TOPIC)
        assert request["AlarmActions"] == request["OKActions"] == [topic.outputs["arn"]]
        # A fixed name is freed before a replacement (C2).
        assert record.delete_before_replace


def test_dev_alarms_never_fire_on_missing_data(build_stack: BuildStack) -> None:
    """Dev, both shapes: every alarm treats missing data as not breaching."""
    for compute in ("fargate", "lambda"):
        records = build_stack("dev", compute=compute).find(ALARM)
        assert {r.inputs["treatMissingData"] for r in records} == {"notBreaching"}


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use(variant: StackResult) -> None:
    """One SNS topic per stack, encrypted with a rotating CMK whose policy admits CloudWatch."""
    (topic,) = variant.find(TOPIC)
    (key,) = variant.find(KMS_KEY)
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    assert policy == topic_key_policy("aws", REGION, ACCOUNT_ID)
    (topic_policy_record,) = variant.find(TOPIC_POLICY)
    assert topic_policy_record.inputs["arn"] == topic.outputs["arn"]
    assert json.loads(topic_policy_record.inputs["policy"]) == topic_policy(
        topic.outputs["arn"], "aws", REGION, ACCOUNT_ID
    )
    # No e-mail configured in the stack files: no subscription.
    assert not variant.find(SUBSCRIPTION)


def test_alarm_email_subscribes_to_the_topic(build_stack: BuildStack) -> None:
    """alarmEmail adds exactly one e-mail subscription to the topic."""
    stack = build_stack("dev", compute="fargate", alarmEmail="ops@example.com")
    (subscription,) = stack.find(SUBSCRIPTION)
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "ops@example.com"
    assert subscription.inputs["topic"] == stack.one(TOPIC).outputs["arn"]


def test_fargate_deployments_roll_back_on_alarms(build_stack: BuildStack) -> None:
    """Item 3: the ECS service's deployment alarms are the existing 5xx and unhealthy alarms."""
    for stack_name in ("dev", "prod"):
        stack = build_stack(stack_name, compute="fargate")
        service = stack.one(ECS_SERVICE)
        gate = service.inputs["alarms"]
        assert gate["enable"] is True
        assert gate["rollback"] is True
        expected = [f"fastapi-on-aws-{stack_name}-{key}" for key in GATES["fargate"]]
        assert gate["alarmNames"] == expected
        existing = alarms(stack)
        assert set(expected) <= set(existing)
        # Created before the service, which ECS requires (the names must exist).
        assert {existing[name].urn for name in expected} <= set(service.depends_on)
        # On top of the circuit breaker, not instead of it.
        assert service.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_dashboard_in_the_stack_shows_every_alarm(variant: StackResult) -> None:
    """The stack's one dashboard validates and has a graph and a status entry per alarm."""
    (board,) = variant.find(DASHBOARD)
    assert board.inputs["dashboardName"] == f"fastapi-on-aws-{variant.stack}-service"
    assert board.delete_before_replace
    body = json.loads(board.inputs["dashboardBody"])
    assert obs.dashboard_body_errors(body) == []
    names = set(alarms(variant))
    (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    arns = set(status["properties"]["alarms"])
    assert arns == {obs.alarm_arn("aws", REGION, ACCOUNT_ID, name) for name in names}
    graphs = [w for w in body["widgets"] if w["type"] == "metric"]
    assert len(graphs) == len(names)
    existing = existing_dimension_values(variant)
    for widget in graphs:
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], str):
                pairs = row[2:-1]
                for name, value in zip(pairs[::2], pairs[1::2], strict=True):
                    assert value in existing[name], (name, value)
    # The dashboard is created after every alarm it lists.
    assert {r.urn for r in variant.find(ALARM)} <= set(board.depends_on)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_c1_operations_keep_their_urns_and_leave_the_data_layer_alone(
    build_stack: BuildStack, stack: str
) -> None:
    """C1: topic, data alarms and dashboard keep URNs across a switch; data layer untouched."""
    fargate, serverless = (
        build_stack(stack, compute="fargate"),
        build_stack(stack, compute="lambda"),
    )

    def operations(result: StackResult) -> dict[str, ResourceRecord]:
        return {r.urn: r for r in result.resources if test_switch.is_operations(result, r)}

    ops_fargate, ops_lambda = operations(fargate), operations(serverless)
    assert set(ops_fargate) == set(ops_lambda)
    types = {record.type for record in ops_fargate.values()}
    assert {MONITORING_TYPE, DASHBOARD_TYPE, TOPIC, KMS_KEY, ALARM, DASHBOARD} <= types
    # Only the dashboard's body (it draws the compute shape) and tags change.
    for urn, before in ops_fargate.items():
        changes = set(test_switch.input_changes(before, ops_lambda[urn]))
        allowed = {"tags", "dashboardBody"} if before.type == DASHBOARD else {"tags"}
        assert changes <= allowed, (before.name, changes)
    # Nothing of this feature lives in, or changed, the data layer.
    for result in (fargate, serverless):
        for record in test_switch.shared(result).values():
            assert record.type not in (ALARM, TOPIC, KMS_KEY, DASHBOARD), record.name
    # Compute alarms belong to the compute component, so a switch swaps them.
    for result, token in ((fargate, "fargate"), (serverless, "lambda")):
        component = result.one(test_switch.COMPUTE_COMPONENTS[token])
        compute_alarms = [r for r in result.find(ALARM) if r.parent == component.urn]
        assert len(compute_alarms) == len(EXPECTED_KEYS[token])


def test_c1_thresholds_do_not_touch_data_layer_urns_or_inputs(build_stack: BuildStack) -> None:
    """Changing every alarm threshold changes alarms only: data-layer URNs and inputs stay."""
    base = build_stack("dev", compute="fargate")
    changed = build_stack(
        "dev", compute="fargate", alarmCpuPercent=90, alarmDbFreeStorageGb=2, alarm5xxRatePercent=1
    )
    before, after = test_switch.shared(base), test_switch.shared(changed)
    assert set(before) == set(after)
    for urn, record in before.items():
        assert test_switch.input_changes(record, after[urn]) == {}, record.name
    thresholds_after = {r.inputs["name"]: r.inputs["threshold"] for r in changed.find(ALARM)}
    assert thresholds_after["fastapi-on-aws-dev-db-free-storage-low"] == 2 * 1024**3
    assert thresholds_after["fastapi-on-aws-dev-alb-5xx-rate"] == 1
