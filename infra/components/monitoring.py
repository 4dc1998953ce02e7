"""Monitoring: the alarm topic, the data-layer alarms and the stack's dashboard.

``Monitoring`` is compute-independent: one KMS-encrypted SNS topic per stack
(with an optional e-mail subscription) and the alarms on the database and the
cache. It is built before the compute shape, which creates its own alarms
(:func:`create_alarms`) next to the resources they watch, so a compute switch
replaces those alarms and nothing here (INVARIANT C1). ``Dashboard`` is built
last, from the specs of every alarm of the stack (``infra/documents/observability.py``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from infra.components import physical_name, type_token
from infra.components.domain import AliasTarget
from infra.documents import iam
from infra.documents import observability as obs

MONITORING_TYPE: Final = type_token("monitoring", "Monitoring")
DASHBOARD_TYPE: Final = type_token("monitoring", "Dashboard")
CLOUDWATCH_PRINCIPAL: Final = "cloudwatch.amazonaws.com"
KEY_DELETION_WINDOW_DAYS: Final = 30

AlarmSpecs = list[obs.AlarmSpec[pulumi.Input[str]]]


@dataclass(frozen=True)
class AlarmSet:
    """Alarms created from specs: the specs, their physical names and the resources."""

    specs: AlarmSpecs
    names: dict[str, str]
    resources: dict[str, aws.cloudwatch.MetricAlarm]

    def gating(self) -> list[aws.cloudwatch.MetricAlarm]:
        """The alarms a rollout watches (``gates_deployments``)."""
        return [self.resources[spec.key] for spec in self.specs if spec.gates_deployments]

    def gating_names(self) -> list[str]:
        """Names of the alarms a rollout watches."""
        return [self.names[spec.key] for spec in self.specs if spec.gates_deployments]


@dataclass(frozen=True)
class ComputeOperations:
    """What a compute shape gets from the operations layer (alarms, domain)."""

    stack: str
    thresholds: obs.Thresholds
    alarm_topic_arn: pulumi.Input[str]
    certificate_arn: pulumi.Input[str] | None
    """Configured ``certificateArn``, else the managed certificate, else None."""
    domain_name: str
    """The custom domain, or "" without one."""


def create_alarms(
    prefix: str,
    specs: AlarmSpecs,
    *,
    stack: str,
    topic_arn: pulumi.Input[str],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> AlarmSet:
    """One ``MetricAlarm`` per spec, named ``<prefix>-alarm-<key>``, notifying ``topic_arn``."""
    names: dict[str, str] = {}
    resources: dict[str, aws.cloudwatch.MetricAlarm] = {}
    for spec in specs:
        name = obs.alarm_name(stack, spec)
        names[spec.key] = name
        metric_args: dict[str, Any] = {}
        if spec.expression is None:
            (metric,) = spec.metrics
            metric_args = {
                "namespace": metric.namespace,
                "metric_name": metric.name,
                "dimensions": dict(metric.dimensions),
                "period": spec.period,
            }
            if metric.percentile:
                metric_args["extended_statistic"] = metric.stat
            else:
                metric_args["statistic"] = metric.stat
        else:
            queries = [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=obs.EXPRESSION_ID,
                    expression=spec.expression,
                    label=spec.title,
                    return_data=True,
                )
            ]
            queries += [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=metric_id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=metric.namespace,
                        metric_name=metric.name,
                        dimensions=dict(metric.dimensions),
                        period=spec.period,
                        stat=metric.stat,
                    ),
                )
                for metric_id, metric in zip(spec.metric_ids, spec.metrics, strict=True)
            ]
            metric_args = {"metric_queries": queries}
        resources[spec.key] = aws.cloudwatch.MetricAlarm(
            f"{prefix}-alarm-{spec.key}",
            name=name,
            alarm_description=f"{spec.description} Runbook: docs/operations.md#{spec.key}",
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            treat_missing_data=spec.treat_missing_data,
            actions_enabled=True,
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            **metric_args,
            opts=pulumi.ResourceOptions(
                parent=parent,
                # A fixed name: a replacement must free it first (INVARIANT C2).
                delete_before_replace=True,
                depends_on=list(depends_on),
            ),
        )
    return AlarmSet(specs=list(specs), names=names, resources=resources)


# --------------------------------------------------------------------- documents


def topic_key_policy(partition: str, region: str, account_id: str) -> iam.PolicyDocument:
    """Key policy of the alarm topic's CMK: the account administers, CloudWatch encrypts.

    CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed
    ``aws/sns`` key (its policy cannot name CloudWatch), hence a CMK.
    """
    source = _cloudwatch_source_condition(partition, region, account_id)
    return iam.policy(
        [
            {
                # AWS's default key policy statement: delegate to IAM, so the
                # account's own policies govern the key and it can never be
                # locked out.
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchAlarmsEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDWATCH_PRINCIPAL},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": source,
            },
        ]
    )


def topic_policy(
    topic_arn: str, partition: str, region: str, account_id: str
) -> iam.PolicyDocument:
    """Topic policy: only this account's CloudWatch alarms may publish."""
    return iam.policy(
        [
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDWATCH_PRINCIPAL},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": _cloudwatch_source_condition(partition, region, account_id),
            }
        ]
    )


def _cloudwatch_source_condition(partition: str, region: str, account_id: str) -> dict[str, Any]:
    """Confused-deputy guard: only alarms of this account and region."""
    return {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": obs.alarm_arn(partition, region, account_id, "*")},
    }


# ------------------------------------------------------------------- components


@dataclass(frozen=True)
class MonitoringArgs:
    """Inputs of the Monitoring component."""

    stack: str
    region: str
    thresholds: obs.Thresholds
    alarm_email: str
    database_identifier: pulumi.Input[str]
    cache_group_id: pulumi.Input[str]
    cache_node_count: int


class Monitoring(pulumi.ComponentResource):
    """The alarm topic (KMS-encrypted), its subscription and the data-layer alarms."""

    topic_arn: pulumi.Output[str]
    alarms: AlarmSet

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the topic first, then the alarms that publish to it."""
        super().__init__(MONITORING_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))

        key = aws.kms.Key(
            f"{name}-topic-key",
            description=f"fastapi-on-aws {args.stack}: encrypts the alarm topic",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.all(partition.partition, identity.account_id).apply(
                lambda values: iam.to_json(topic_key_policy(values[0], args.region, values[1]))
            ),
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            display_name=f"fastapi-on-aws {args.stack} alarms",
            kms_master_key_id=key.arn,
            opts=child,
        )
        topic_policy_resource = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, partition.partition, identity.account_id).apply(
                lambda values: iam.to_json(
                    topic_policy(values[0], values[1], args.region, values[2])
                )
            ),
            opts=child,
        )
        if args.alarm_email:
            # E-mail needs a click on the confirmation link AWS sends before
            # anything is delivered (docs/operations.md).
            aws.sns.TopicSubscription(
                f"{name}-email",
                topic=topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )

        group_id = pulumi.Output.from_input(args.cache_group_id)
        nodes: list[pulumi.Input[str]] = [
            group_id.apply(functools.partial(obs.cache_node_id, index=number))
            for number in range(1, args.cache_node_count + 1)
        ]
        specs: AlarmSpecs = [
            *obs.database_alarms(args.thresholds, instance=args.database_identifier),
            *obs.cache_alarms(args.thresholds, nodes=nodes),
        ]
        self.alarms = create_alarms(
            name,
            specs,
            stack=args.stack,
            topic_arn=topic.arn,
            parent=self,
            depends_on=[topic_policy_resource],
        )
        self.topic_arn = topic.arn
        self.register_outputs(
            {"topic_arn": self.topic_arn, "alarm_names": sorted(self.alarms.names.values())}
        )


@dataclass(frozen=True)
class DashboardArgs:
    """Inputs of the Dashboard component: every alarm set of the stack."""

    stack: str
    region: str
    alarm_sets: Sequence[AlarmSet]


class Dashboard(pulumi.ComponentResource):
    """One CloudWatch dashboard per stack, drawn from the alarm specs."""

    dashboard_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Resolve the specs' dimension values and render the documented body."""
        super().__init__(DASHBOARD_TYPE, name, None, opts)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        specs: AlarmSpecs = [spec for alarm_set in args.alarm_sets for spec in alarm_set.specs]
        names: dict[str, str] = {}
        for alarm_set in args.alarm_sets:
            names.update(alarm_set.names)
        board_name = physical_name(args.stack, "service", max_length=255)
        title = f"fastapi-on-aws {args.stack}"

        def render(values: list[Any]) -> str:
            partition_name, account_id, *dimensions = values
            resolved = obs.with_values(specs, [str(value) for value in dimensions])
            body = obs.dashboard_body(
                resolved,
                title=title,
                region=args.region,
                alarm_names=names,
                alarm_arns={
                    key: obs.alarm_arn(partition_name, args.region, account_id, alarm)
                    for key, alarm in names.items()
                },
            )
            errors = obs.dashboard_body_errors(body)
            if errors:
                raise ValueError("dashboard body is invalid: " + "; ".join(errors))
            return json.dumps(body, sort_keys=True)

        alarms = [alarm for alarm_set in args.alarm_sets for alarm in alarm_set.resources.values()]
        board = aws.cloudwatch.Dashboard(
            f"{name}-board",
            dashboard_name=board_name,
            dashboard_body=pulumi.Output.all(
                partition.partition, identity.account_id, *obs.dimension_values(specs)
            ).apply(render),
            opts=pulumi.ResourceOptions(
                parent=self,
                # A fixed name: a replacement must free it first (INVARIANT C2).
                delete_before_replace=True,
                # The alarm widget lists the alarms: create them first.
                depends_on=alarms,
            ),
        )
        self.dashboard_name = board.dashboard_name
        self.register_outputs({"dashboard_name": self.dashboard_name})


@dataclass(frozen=True)
class ComputeResult:
    """What a compute shape hands back: exports, its alarms, and its domain endpoint."""

    exports: dict[str, pulumi.Output[Any]]
    alarms: AlarmSet
    alias_target: AliasTarget | None
    """The endpoint a custom domain's alias record points at (None: no custom domain)."""
