"""Alarms as data: what each alarm of a stack watches, and how CloudWatch spells it.

Every alarm of a stack is an :class:`AlarmSpec`: the metric (or the metric
math over several metrics), its namespace and dimensions, statistic, period,
threshold, comparison and what missing data means. The components
(``infra/components/monitoring.py`` and the compute shapes) turn each spec into
one ``aws.cloudwatch.MetricAlarm``; :func:`infra.documents.dashboard.dashboard_body`
turns the SAME specs into the stack's CloudWatch dashboard, so a graph and the
alarm on it can never disagree.

The builders are generic in the type of a dimension value (``V``): tests and
the dashboard call them with plain strings, the components with
``pulumi.Input[str]`` (a load balancer's ``arn_suffix``, a function's name),
which the builders only carry, never inspect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar

from infra.documents.naming import physical_name

V = TypeVar("V")
W = TypeVar("W")

Comparison: TypeAlias = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
MissingData: TypeAlias = Literal["breaching", "notBreaching", "ignore", "missing"]

# PutMetricAlarm and dashboard statistics: the five plain ones, or a percentile.
PLAIN_STATISTICS: Final = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100)$")
GIB: Final = 1024**3
# Metric math ids: lowercase first letter (CloudWatch's rule).
EXPRESSION_ID: Final = "e1"


def is_percentile(stat: str) -> bool:
    """Whether ``stat`` is a percentile such as ``p99`` (PutMetricAlarm's ExtendedStatistic)."""
    return bool(_PERCENTILE.fullmatch(stat))


@dataclass(frozen=True)
class Thresholds:
    """Alarm thresholds from config (``alarm*`` keys), with the stack's environment."""

    production: bool
    error_rate_percent: int
    latency_p99_ms: int
    cpu_percent: int
    memory_percent: int
    throttles: int
    db_free_storage_gb: int
    db_connections: int
    cache_memory_percent: int
    cache_evictions: int

    def missing_data(self, in_production: MissingData) -> MissingData:
        """What missing data means: never an alarm in dev, ``in_production`` in prod."""
        return in_production if self.production else "notBreaching"


@dataclass(frozen=True)
class Metric(Generic[V]):
    """One CloudWatch metric with its dimensions and the statistic the alarm uses."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, V], ...]
    stat: str
    label: str

    @property
    def percentile(self) -> bool:
        """Whether ``stat`` is a percentile (PutMetricAlarm's ExtendedStatistic)."""
        return is_percentile(self.stat)


@dataclass(frozen=True)
class AlarmSpec(Generic[V]):
    """One alarm: a metric (or metric math over ``metrics``), threshold and meaning."""

    key: str
    """Stable short id: the alarm's logical name suffix and physical name suffix."""
    group: str
    title: str
    description: str
    metrics: tuple[Metric[V], ...]
    threshold: float
    comparison: Comparison
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: MissingData
    unit: str
    expression: str | None = None
    """Metric math over ``m0``, ``m1``, … (the metrics in order); None: one metric."""
    gates_deployments: bool = False
    """Watched by the deployment: an ALARM during a rollout rolls it back."""

    @property
    def metric_ids(self) -> tuple[str, ...]:
        """The metric math ids of ``metrics``: m0, m1, …"""
        return tuple(f"m{index}" for index in range(len(self.metrics)))


def _metric(namespace: str, name: str, stat: str, label: str, **dimensions: V) -> Metric[V]:
    return Metric(namespace, name, tuple(dimensions.items()), stat, label)


def _rate(error_metrics: int) -> str:
    """Metric math: ``m0``…``m<n-1>`` (errors) as a percentage of ``m<n>`` (all requests).

    No traffic gives 0, not a division by zero; a missing error count is 0.
    """
    errors = " + ".join(f"FILL(m{index}, 0)" for index in range(error_metrics))
    total = f"m{error_metrics}"
    return f"IF({total} > 0, 100 * ({errors}) / {total}, 0)"


# ------------------------------------------------------------------ per shape


def fargate_alarms(
    t: Thresholds, *, load_balancer: V, target_group: V, cluster: V, service: V
) -> list[AlarmSpec[V]]:
    """ALB 5xx rate, unhealthy targets, target p99 latency, ECS CPU and memory."""
    return [
        *fargate_traffic_alarms(t, load_balancer=load_balancer, target_group=target_group),
        *fargate_service_alarms(t, cluster=cluster, service=service),
    ]


def fargate_traffic_alarms(
    t: Thresholds, *, load_balancer: V, target_group: V
) -> list[AlarmSpec[V]]:
    """The load balancer's view: 5xx rate and unhealthy targets (rollout gates), p99 latency."""
    alb = "AWS/ApplicationELB"
    return [
        _alb_error_rate_alarm(t, load_balancer=load_balancer),
        AlarmSpec(
            key="unhealthy-targets",
            group="Requests and errors",
            title="Unhealthy targets",
            description="At least one registered task fails the /health check of the target group.",
            metrics=(
                _metric(
                    alb,
                    "UnHealthyHostCount",
                    "Maximum",
                    "Unhealthy targets",
                    TargetGroup=target_group,
                    LoadBalancer=load_balancer,
                ),
            ),
            threshold=1.0,
            comparison="GreaterThanOrEqualToThreshold",
            period=60,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            # Missing during a rollout must never roll it back.
            treat_missing_data="notBreaching",
            unit="targets",
            gates_deployments=True,
        ),
        AlarmSpec(
            key="target-p99-latency",
            group="Latency",
            title="Target p99 latency",
            description="The slowest 1 % of requests take longer than the latency budget.",
            metrics=(
                _metric(alb, "TargetResponseTime", "p99", "p99 (s)", LoadBalancer=load_balancer),
            ),
            # TargetResponseTime is in seconds.
            threshold=t.latency_p99_ms / 1000,
            comparison="GreaterThanThreshold",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data="notBreaching",
            unit="seconds",
        ),
    ]


def _alb_error_rate_alarm(t: Thresholds, *, load_balancer: V) -> AlarmSpec[V]:
    """The 5xx share of all requests, from the tasks and the ALB itself (a rollout gate)."""
    alb = "AWS/ApplicationELB"
    return AlarmSpec(
        key="alb-5xx-rate",
        group="Requests and errors",
        title="ALB 5xx rate",
        description=(
            "More than the allowed share of requests through the load balancer ended "
            "in a 5xx (from the tasks or the ALB itself)."
        ),
        metrics=(
            _metric(
                alb,
                "HTTPCode_Target_5XX_Count",
                "Sum",
                "Target 5xx",
                LoadBalancer=load_balancer,
            ),
            _metric(alb, "HTTPCode_ELB_5XX_Count", "Sum", "ALB 5xx", LoadBalancer=load_balancer),
            _metric(alb, "RequestCount", "Sum", "Requests", LoadBalancer=load_balancer),
        ),
        expression=_rate(2),
        threshold=float(t.error_rate_percent),
        comparison="GreaterThanThreshold",
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        # No traffic is no error, in every environment.
        treat_missing_data="notBreaching",
        unit="% of requests",
        gates_deployments=True,
    )


def fargate_service_alarms(t: Thresholds, *, cluster: V, service: V) -> list[AlarmSpec[V]]:
    """The ECS service's saturation: CPU and memory, averaged over its tasks."""
    return [
        AlarmSpec(
            key="ecs-cpu-high",
            group="Compute",
            title="ECS CPU high",
            description="The service's tasks use more CPU than the limit, averaged over tasks.",
            metrics=(
                _metric(
                    "AWS/ECS",
                    "CPUUtilization",
                    "Average",
                    "CPU %",
                    ClusterName=cluster,
                    ServiceName=service,
                ),
            ),
            threshold=float(t.cpu_percent),
            comparison="GreaterThanThreshold",
            period=300,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=t.missing_data("missing"),
            unit="%",
        ),
        AlarmSpec(
            key="ecs-memory-high",
            group="Compute",
            title="ECS memory high",
            description="The service's tasks use more memory than the limit, averaged over tasks.",
            metrics=(
                _metric(
                    "AWS/ECS",
                    "MemoryUtilization",
                    "Average",
                    "Memory %",
                    ClusterName=cluster,
                    ServiceName=service,
                ),
            ),
            threshold=float(t.memory_percent),
            comparison="GreaterThanThreshold",
            period=300,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=t.missing_data("missing"),
            unit="%",
        ),
    ]


def lambda_alarms(
    t: Thresholds, *, function: V, api: V, timeout_seconds: int
) -> list[AlarmSpec[V]]:
    """Lambda error rate, throttles, p99 duration near the timeout; HTTP API 5xx rate."""
    return [
        *_lambda_error_alarms(t, function=function, api=api),
        *_lambda_capacity_alarms(t, function=function, timeout_seconds=timeout_seconds),
    ]


def _lambda_error_alarms(t: Thresholds, *, function: V, api: V) -> list[AlarmSpec[V]]:
    """The failing share of Lambda invocations, and of the HTTP API's requests."""
    fn = "AWS/Lambda"
    return [
        AlarmSpec(
            key="lambda-error-rate",
            group="Requests and errors",
            title="Lambda error rate",
            description=(
                "Invocations failing (unhandled errors, timeouts, crashes) above the allowed share."
            ),
            metrics=(
                _metric(fn, "Errors", "Sum", "Errors", FunctionName=function),
                _metric(fn, "Invocations", "Sum", "Invocations", FunctionName=function),
            ),
            expression=_rate(1),
            threshold=float(t.error_rate_percent),
            comparison="GreaterThanThreshold",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data="notBreaching",
            unit="% of invocations",
        ),
        AlarmSpec(
            key="api-5xx-rate",
            group="Requests and errors",
            title="HTTP API 5xx rate",
            description="More than the allowed share of API requests answered with a 5xx.",
            metrics=(
                _metric("AWS/ApiGateway", "5xx", "Sum", "5xx", ApiId=api),
                _metric("AWS/ApiGateway", "Count", "Sum", "Requests", ApiId=api),
            ),
            expression=_rate(1),
            threshold=float(t.error_rate_percent),
            comparison="GreaterThanThreshold",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data="notBreaching",
            unit="% of requests",
        ),
    ]


def _lambda_capacity_alarms(
    t: Thresholds, *, function: V, timeout_seconds: int
) -> list[AlarmSpec[V]]:
    """Lambda saturation: throttles, and a p99 duration close to the timeout."""
    fn = "AWS/Lambda"
    # Alarm at 90 % of the timeout: the next slower requests time out.
    near_timeout_ms = timeout_seconds * 1000 * 0.9
    return [
        AlarmSpec(
            key="lambda-throttles",
            # Throttling is the Lambda shape's saturation: concurrency ran out.
            group="Compute",
            title="Lambda throttles",
            description="Invocations refused for lack of concurrency (clients saw 429/503).",
            metrics=(_metric(fn, "Throttles", "Sum", "Throttles", FunctionName=function),),
            threshold=float(t.throttles),
            comparison="GreaterThanOrEqualToThreshold",
            period=300,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
            unit="invocations",
        ),
        AlarmSpec(
            key="lambda-p99-duration",
            group="Latency",
            title="Lambda p99 duration near the timeout",
            description=(
                f"The slowest 1 % of invocations take over 90 % of the {timeout_seconds} s "
                "timeout: the next slower ones fail."
            ),
            metrics=(_metric(fn, "Duration", "p99", "p99 (ms)", FunctionName=function),),
            threshold=near_timeout_ms,
            comparison="GreaterThanThreshold",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data="notBreaching",
            unit="milliseconds",
        ),
    ]


# ---------------------------------------------------------------- data layers


def database_alarms(t: Thresholds, *, instance: V) -> list[AlarmSpec[V]]:
    """RDS CPU, free storage and connections of the one PostgreSQL instance."""
    rds = "AWS/RDS"
    return [
        AlarmSpec(
            key="db-cpu-high",
            group="Database",
            title="RDS CPU high",
            description="The database instance is CPU-bound: queries queue and slow down.",
            metrics=(
                _metric(rds, "CPUUtilization", "Average", "CPU %", DBInstanceIdentifier=instance),
            ),
            threshold=float(t.cpu_percent),
            comparison="GreaterThanThreshold",
            period=300,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=t.missing_data("missing"),
            unit="%",
        ),
        _db_free_storage_alarm(t, instance=instance),
        AlarmSpec(
            key="db-connections-high",
            group="Database",
            title="RDS connections high",
            description="Client connections approach the instance's max_connections.",
            metrics=(
                _metric(
                    rds,
                    "DatabaseConnections",
                    "Maximum",
                    "Connections",
                    DBInstanceIdentifier=instance,
                ),
            ),
            threshold=float(t.db_connections),
            comparison="GreaterThanThreshold",
            period=300,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=t.missing_data("missing"),
            unit="connections",
        ),
    ]


def _db_free_storage_alarm(t: Thresholds, *, instance: V) -> AlarmSpec[V]:
    """Free disk below the threshold: storage autoscaling is capped or too slow."""
    rds = "AWS/RDS"
    return AlarmSpec(
        key="db-free-storage-low",
        group="Database",
        title="RDS free storage low",
        description=(
            "The database is about to run out of disk (storage autoscaling is capped or too slow)."
        ),
        metrics=(
            _metric(
                rds, "FreeStorageSpace", "Minimum", "Free bytes", DBInstanceIdentifier=instance
            ),
        ),
        threshold=float(t.db_free_storage_gb * GIB),
        comparison="LessThanThreshold",
        period=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data=t.missing_data("missing"),
        unit="bytes",
    )


def cache_node_id(replication_group_id: str, index: int) -> str:
    """The member cluster id ElastiCache gives node ``index`` (1-based) of a group."""
    return f"{replication_group_id}-{index:03d}"


def cache_alarms(t: Thresholds, *, nodes: Sequence[V]) -> list[AlarmSpec[V]]:
    """Redis memory use and evictions, per node (a failover moves the primary)."""
    specs: list[AlarmSpec[V]] = []
    for number, node in enumerate(nodes, start=1):
        specs += [
            AlarmSpec(
                key=f"cache-memory-high-{number}",
                group="Cache",
                title=f"Redis memory high (node {number})",
                description="Redis uses most of its memory: evictions follow.",
                metrics=(
                    _metric(
                        "AWS/ElastiCache",
                        "DatabaseMemoryUsagePercentage",
                        "Maximum",
                        "Memory %",
                        CacheClusterId=node,
                    ),
                ),
                threshold=float(t.cache_memory_percent),
                comparison="GreaterThanThreshold",
                period=300,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                treat_missing_data=t.missing_data("missing"),
                unit="%",
            ),
            AlarmSpec(
                key=f"cache-evictions-{number}",
                group="Cache",
                title=f"Redis evictions (node {number})",
                description="Redis drops keys to make room: the hit rate and the database suffer.",
                metrics=(
                    _metric(
                        "AWS/ElastiCache", "Evictions", "Sum", "Evictions", CacheClusterId=node
                    ),
                ),
                threshold=float(t.cache_evictions),
                comparison="GreaterThanThreshold",
                period=300,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                treat_missing_data=t.missing_data("missing"),
                unit="keys per 5 minutes",
            ),
        ]
    return specs


# ------------------------------------------------------------ resolving values


def dimension_values(specs: Sequence[AlarmSpec[V]]) -> list[V]:
    """Every dimension value of ``specs``, in a fixed order (see :func:`with_values`)."""
    return [value for spec in specs for metric in spec.metrics for _, value in metric.dimensions]


def with_values(specs: Sequence[AlarmSpec[V]], values: Sequence[W]) -> list[AlarmSpec[W]]:
    """``specs`` with their dimension values replaced, in :func:`dimension_values` order."""
    remaining = list(values)
    if len(remaining) != len(dimension_values(specs)):
        raise ValueError("one value per dimension of the specs is needed")
    resolved: list[AlarmSpec[W]] = []
    for spec in specs:
        metrics = []
        for metric in spec.metrics:
            dims = tuple((name, remaining.pop(0)) for name, _ in metric.dimensions)
            metrics.append(Metric(metric.namespace, metric.name, dims, metric.stat, metric.label))
        resolved.append(replace(spec, metrics=tuple(metrics)))  # type: ignore[arg-type]
    return resolved


# ------------------------------------------------------------------- the alarm


def alarm_name(stack: str, spec: AlarmSpec[Any]) -> str:
    """The alarm's physical name: ``fastapi-on-aws-<stack>-<key>``."""
    return physical_name(stack, spec.key, max_length=255)


def alarm_arn(partition: str, region: str, account_id: str, name: str) -> str:
    """The ARN CloudWatch gives the alarm called ``name``."""
    return f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:{name}"


def put_metric_alarm_request(spec: AlarmSpec[str], *, name: str, topic_arn: str) -> dict[str, Any]:
    """The PutMetricAlarm request for ``spec`` (the API's own spelling of the alarm)."""
    request: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": spec.description,
        "ActionsEnabled": True,
        "AlarmActions": [topic_arn],
        "OKActions": [topic_arn],
        "EvaluationPeriods": spec.evaluation_periods,
        "DatapointsToAlarm": spec.datapoints_to_alarm,
        "Threshold": spec.threshold,
        "ComparisonOperator": spec.comparison,
        "TreatMissingData": spec.treat_missing_data,
    }
    if spec.expression is None:
        (metric,) = spec.metrics
        request.update(
            Namespace=metric.namespace,
            MetricName=metric.name,
            Dimensions=[{"Name": k, "Value": v} for k, v in metric.dimensions],
            Period=spec.period,
        )
        if metric.percentile:
            request["ExtendedStatistic"] = metric.stat
        else:
            request["Statistic"] = metric.stat
        return request
    queries: list[dict[str, Any]] = [
        {
            "Id": EXPRESSION_ID,
            "Expression": spec.expression,
            "Label": spec.title,
            "ReturnData": True,
        }
    ]
    for metric_id, metric in zip(spec.metric_ids, spec.metrics, strict=True):
        queries.append(
            {
                "Id": metric_id,
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": metric.namespace,
                        "MetricName": metric.name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions],
                    },
                    "Period": spec.period,
                    "Stat": metric.stat,
                },
            }
        )
    request["Metrics"] = queries
    return request
