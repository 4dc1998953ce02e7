"""CloudWatch's documented dashboard body structure, as a checker.

:func:`dashboard_body_errors` lists every way a body breaks it, so a test can
prove :func:`infra.documents.dashboard.dashboard_body` builds what
PutDashboard accepts without calling AWS.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from infra.documents.alarms import PLAIN_STATISTICS, is_percentile
from infra.documents.dashboard import GRID_COLUMNS

WIDGET_TYPES: Final = ("metric", "text", "log", "alarm", "explorer")
_METRIC_OPTIONS: Final = {
    "color", "label", "period", "stat", "visible", "yAxis", "id", "region", "accountId",
}  # fmt: skip
_EXPRESSION_OPTIONS: Final = {"expression", "label", "id", "color", "period", "visible", "yAxis"}
_ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[^:]+$")
_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")
_MAX_WIDGETS: Final = 500
_MAX_METRICS: Final = 500
_MAX_ALARMS: Final = 100


def _stat_ok(stat: object) -> bool:
    return isinstance(stat, str) and (stat in PLAIN_STATISTICS or is_percentile(stat))


def _period_ok(period: object) -> bool:
    """1, 5, 10, 30 or a multiple of 60 seconds."""
    return (
        isinstance(period, int)
        and not isinstance(period, bool)
        and (period in (1, 5, 10, 30) or (period > 0 and period % 60 == 0))
    )


def _metrics_errors(metrics: object, where: str) -> list[str]:
    if not isinstance(metrics, list) or not metrics:
        return [f"{where}.metrics must be a non-empty array of arrays"]
    if len(metrics) > _MAX_METRICS:
        return [f"{where}.metrics has {len(metrics)} entries, at most {_MAX_METRICS}"]
    errors: list[str] = []
    for index, row in enumerate(metrics):
        at = f"{where}.metrics[{index}]"
        if not isinstance(row, list) or not row:
            errors.append(f"{at} must be a non-empty array")
            continue
        options = row[-1] if isinstance(row[-1], dict) else None
        body = row[:-1] if options is not None else row
        if options is not None and "expression" in options:
            if body:
                errors.append(f"{at}: an expression entry holds only its options object")
            errors += [
                f"{at}: unknown option {k!r}" for k in options if k not in _EXPRESSION_OPTIONS
            ]
            if not isinstance(options.get("expression"), str) or not options["expression"]:
                errors.append(f"{at}.expression must be a non-empty string")
            if "id" in options and not _ID.fullmatch(str(options["id"])):
                errors.append(f"{at}.id must start with a lowercase letter")
            continue
        if any(not isinstance(item, str) for item in body):
            errors.append(f"{at}: namespace, metric name and dimensions must be strings")
            continue
        if len(body) < 2 or len(body) % 2:
            errors.append(
                f"{at} must be [namespace, metricName, dimName, dimValue, …] "
                "(pairs after the first two)"
            )
        if options is not None:
            errors += [f"{at}: unknown option {k!r}" for k in options if k not in _METRIC_OPTIONS]
            if "stat" in options and not _stat_ok(options["stat"]):
                errors.append(f"{at}.stat {options['stat']!r} is not a statistic")
            if "period" in options and not _period_ok(options["period"]):
                errors.append(f"{at}.period must be 1, 5, 10, 30 or a multiple of 60")
            if options.get("yAxis", "left") not in ("left", "right"):
                errors.append(f"{at}.yAxis must be left or right")
            if "id" in options and not _ID.fullmatch(str(options["id"])):
                errors.append(f"{at}.id must start with a lowercase letter")
    return errors


def _metric_widget_errors(properties: dict[str, Any], where_p: str) -> list[str]:
    """What a metric widget's ``properties`` (at ``where_p``) break."""
    errors: list[str] = []
    if not isinstance(properties.get("region"), str) or not properties["region"]:
        errors.append(f"{where_p}.region is required for a metric widget")
    errors += _metrics_errors(properties.get("metrics"), where_p)
    if "stat" in properties and not _stat_ok(properties["stat"]):
        errors.append(f"{where_p}.stat {properties['stat']!r} is not a statistic")
    if "period" in properties and not _period_ok(properties["period"]):
        errors.append(f"{where_p}.period must be 1, 5, 10, 30 or a multiple of 60")
    if properties.get("view", "timeSeries") not in (
        "timeSeries",
        "singleValue",
        "gauge",
        "bar",
        "pie",
    ):
        errors.append(f"{where_p}.view {properties['view']!r} is not a view")
    annotations = properties.get("annotations", {})
    if not isinstance(annotations, dict):
        errors.append(f"{where_p}.annotations must be an object")
    else:
        for item in annotations.get("horizontal", []):
            if not isinstance(item, dict) or not isinstance(item.get("value"), (int, float)):
                errors.append(f"{where_p}.annotations.horizontal needs a numeric value each")
        alarm_annotations = annotations.get("alarms", [])
        if len(alarm_annotations) > 1:
            errors.append(f"{where_p}.annotations.alarms holds at most one alarm")
    return errors


def _widget_errors(widget: object, where: str) -> list[str]:
    if not isinstance(widget, dict):
        return [f"{where} must be an object"]
    errors: list[str] = []
    kind = widget.get("type")
    if kind not in WIDGET_TYPES:
        errors.append(f"{where}.type {kind!r} is not one of {WIDGET_TYPES}")
    bounds = (
        ("x", 0, GRID_COLUMNS - 1),
        ("y", 0, None),
        ("width", 1, GRID_COLUMNS),
        ("height", 1, 1000),
    )
    for key, low, high in bounds:
        value = widget.get(key)
        if value is None:
            continue
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < low
            or (high is not None and value > high)
        ):
            errors.append(f"{where}.{key} {value!r} is outside {low}..{high or 'any'}")
    if widget.get("x", 0) + widget.get("width", 6) > GRID_COLUMNS:
        errors.append(f"{where} overflows the {GRID_COLUMNS}-column grid")
    properties = widget.get("properties")
    if not isinstance(properties, dict):
        return [*errors, f"{where}.properties must be an object"]
    if kind == "text" and not isinstance(properties.get("markdown"), str):
        errors.append(f"{where}.properties.markdown is required for a text widget")
    if kind == "alarm":
        alarms = properties.get("alarms")
        if not isinstance(alarms, list) or not 1 <= len(alarms) <= _MAX_ALARMS:
            errors.append(f"{where}.properties.alarms must list 1..{_MAX_ALARMS} alarm ARNs")
        else:
            errors += [
                f"{where}.properties.alarms: {arn!r} is not an alarm ARN"
                for arn in alarms
                if not isinstance(arn, str) or not _ALARM_ARN.fullmatch(arn)
            ]
    if kind == "metric":
        errors += _metric_widget_errors(properties, f"{where}.properties")
    return errors


def _overlaps(widgets: Sequence[dict[str, Any]]) -> list[str]:
    cells: dict[tuple[int, int], int] = {}
    errors: list[str] = []
    for index, widget in enumerate(widgets):
        x, y = widget.get("x"), widget.get("y")
        if not isinstance(x, int) or not isinstance(y, int):
            continue
        for dx in range(widget.get("width", 6)):
            for dy in range(widget.get("height", 6)):
                other = cells.setdefault((x + dx, y + dy), index)
                if other != index:
                    errors.append(f"widgets[{index}] overlaps widgets[{other}]")
                    return errors
    return errors


def dashboard_body_errors(body: object) -> list[str]:
    """Every way ``body`` breaks CloudWatch's documented dashboard body structure."""
    if not isinstance(body, dict):
        return ["the dashboard body must be a JSON object"]
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        return ["the dashboard body needs a widgets array"]
    if len(widgets) > _MAX_WIDGETS:
        return [f"{len(widgets)} widgets, at most {_MAX_WIDGETS}"]
    errors: list[str] = []
    if body.get("periodOverride", "auto") not in ("auto", "inherit"):
        errors.append("periodOverride must be auto or inherit")
    for index, widget in enumerate(widgets):
        errors += _widget_errors(widget, f"widgets[{index}]")
    if not errors:
        errors += _overlaps(widgets)
    return errors
