"""Alarms and the dashboard as data: one import for the modules that build them.

The builders live by concern in :mod:`infra.documents.alarms` (the alarm
specs, their thresholds and the PutMetricAlarm request),
:mod:`infra.documents.dashboard` (the dashboard body drawn from the same specs)
and :mod:`infra.documents.dashboard_schema` (CloudWatch's documented body
structure, as a checker). This module re-exports their public names, so
``from infra.documents import observability as obs`` keeps working.
"""

from __future__ import annotations

from infra.documents.alarms import (
    EXPRESSION_ID,
    GIB,
    PLAIN_STATISTICS,
    AlarmSpec,
    Comparison,
    Metric,
    MissingData,
    Thresholds,
    alarm_arn,
    alarm_name,
    cache_alarms,
    cache_node_id,
    database_alarms,
    dimension_values,
    fargate_alarms,
    fargate_service_alarms,
    fargate_traffic_alarms,
    is_percentile,
    lambda_alarms,
    put_metric_alarm_request,
    with_values,
)
from infra.documents.dashboard import (
    GRID_COLUMNS,
    GROUPS,
    WIDGET_HEIGHT,
    WIDGET_WIDTH,
    dashboard_body,
)
from infra.documents.dashboard_schema import WIDGET_TYPES, dashboard_body_errors

__all__ = [
    "EXPRESSION_ID",
    "GIB",
    "GRID_COLUMNS",
    "GROUPS",
    "PLAIN_STATISTICS",
    "WIDGET_HEIGHT",
    "WIDGET_TYPES",
    "WIDGET_WIDTH",
    "AlarmSpec",
    "Comparison",
    "Metric",
    "MissingData",
    "Thresholds",
    "alarm_arn",
    "alarm_name",
    "cache_alarms",
    "cache_node_id",
    "dashboard_body",
    "dashboard_body_errors",
    "database_alarms",
    "dimension_values",
    "fargate_alarms",
    "fargate_service_alarms",
    "fargate_traffic_alarms",
    "is_percentile",
    "lambda_alarms",
    "put_metric_alarm_request",
    "with_values",
]
