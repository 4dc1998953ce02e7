"""The stack's CloudWatch dashboard, drawn from the same alarm specs as the alarms.

One text header, the alarm status widget, then one graph per alarm grouped
by :data:`GROUPS`, each with its threshold drawn as a red line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from infra.documents.alarms import EXPRESSION_ID, AlarmSpec, Metric

# Dashboard sections, in the order they are drawn.
GROUPS: Final = ("Requests and errors", "Latency", "Compute", "Database", "Cache")
GRID_COLUMNS: Final = 24
WIDGET_WIDTH: Final = 8
WIDGET_HEIGHT: Final = 6


def _metric_row(metric: Metric[str], options: Mapping[str, Any]) -> list[Any]:
    row: list[Any] = [metric.namespace, metric.name]
    for name, value in metric.dimensions:
        row += [name, value]
    row.append({"stat": metric.stat, "label": metric.label, **options})
    return row


def _metric_widget(
    spec: AlarmSpec[str], *, region: str, name: str, x: int, y: int
) -> dict[str, Any]:
    """A graph of the alarm's metric(s) with its threshold as a horizontal annotation."""
    if spec.expression is None:
        metrics = [_metric_row(spec.metrics[0], {})]
    else:
        # The alarmed expression on the left axis, its inputs (traffic) on the right.
        metrics = [[{"expression": spec.expression, "label": spec.title, "id": EXPRESSION_ID}]]
        metrics += [
            _metric_row(metric, {"id": metric_id, "yAxis": "right"})
            for metric_id, metric in zip(spec.metric_ids, spec.metrics, strict=True)
        ]
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": WIDGET_WIDTH,
        "height": WIDGET_HEIGHT,
        "properties": {
            "title": spec.title,
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "period": spec.period,
            "stat": spec.metrics[0].stat,
            "metrics": metrics,
            "annotations": {
                "horizontal": [
                    {"label": f"{name} ({spec.unit})", "value": spec.threshold, "color": "#d62728"}
                ]
            },
        },
    }


def _header_widgets(
    specs: Sequence[AlarmSpec[str]], *, title: str, alarm_arns: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The title and how to read the dashboard, then every alarm's status (rows 0-5)."""
    return [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": GRID_COLUMNS,
            "height": 2,
            "properties": {
                "markdown": f"# {title}\nEvery graph below is an alarm; "
                "the red line is its threshold. What to do: docs/operations.md.",
            },
        },
        {
            "type": "alarm",
            "x": 0,
            "y": 2,
            "width": GRID_COLUMNS,
            "height": 4,
            "properties": {
                "title": "Alarms",
                "alarms": [alarm_arns[spec.key] for spec in specs],
                "sortBy": "stateUpdatedTimestamp",
            },
        },
    ]


def dashboard_body(
    specs: Sequence[AlarmSpec[str]],
    *,
    title: str,
    region: str,
    alarm_arns: Mapping[str, str],
    alarm_names: Mapping[str, str],
) -> dict[str, Any]:
    """The dashboard for ``specs``: alarm status, then one graph per alarm, by group.

    ``alarm_arns``/``alarm_names`` map each spec's key to its alarm's ARN/name.
    """
    unknown = sorted({spec.group for spec in specs} - set(GROUPS))
    if unknown:
        raise ValueError(f"alarm groups {unknown} are not dashboard sections {GROUPS}")
    widgets = _header_widgets(specs, title=title, alarm_arns=alarm_arns)
    y = 6
    per_row = GRID_COLUMNS // WIDGET_WIDTH
    for group in GROUPS:
        members = [spec for spec in specs if spec.group == group]
        if not members:
            continue
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": GRID_COLUMNS,
                "height": 1,
                "properties": {"markdown": f"## {group}"},
            }
        )
        y += 1
        for index, spec in enumerate(members):
            column, row = index % per_row, index // per_row
            widgets.append(
                _metric_widget(
                    spec,
                    region=region,
                    name=alarm_names[spec.key],
                    x=column * WIDGET_WIDTH,
                    y=y + row * WIDGET_HEIGHT,
                )
            )
        y += -(-len(members) // per_row) * WIDGET_HEIGHT
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}
