"""The Grafana dashboard: every panel's PromQL parses and selects only metrics the operator exports
(or the chart's rules record). The same expressions run against a live Prometheus in
test_prometheus_live.py."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY, generate_latest

import dataops.metrics
import dataops.metrics.pipelines
from tests.monitoring.promql import (
    DASHBOARD,
    PROMETHEUS_SERIES,
    dashboard_exprs,
    exposed_series,
    metric_names,
    recorded_names,
    substitute,
)

assert dataops.metrics.RECONCILES  # the operator's metrics are registered in this process


def test_every_panel_has_queries_and_a_unique_id() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace"} <= variables


@pytest.mark.parametrize(("title", "expr"), dashboard_exprs())
def test_panel_selects_only_exported_metrics(title: str, expr: str) -> None:
    exported = exposed_series(generate_latest(REGISTRY).decode())
    names = metric_names(substitute(expr, {"namespace": ".*", "datasource": "prometheus"}))
    assert names, f"{title}: selects no metric"
    unknown = names - exported - recorded_names() - PROMETHEUS_SERIES
    assert not unknown, f"panel {title!r} names metrics that do not exist: {sorted(unknown)}"


def test_parser_rejects_what_prometheus_rejects() -> None:
    """The check above can fail: a typo and a type error are caught."""
    assert metric_names("sum(rate(dataops_runs_total[5m]))") == {"dataops_runs_total"}
    assert "dataops_run_total" not in exposed_series(generate_latest(REGISTRY).decode())
    with pytest.raises(ValueError):
        metric_names("rate(dataops_runs_total)")  # rate() needs a range vector
    with pytest.raises(KeyError):
        substitute("dataops_pipelines{namespace=~'$nmespace'}")
