"""PromQL of the dashboard and the rules, read with a real parser (promql-parser, the Rust
implementation behind GreptimeDB): which metric names an expression selects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT

DASHBOARD = ROOT / "charts" / "dataops-operator" / "files" / "dashboard.json"
RULES = ROOT / "charts" / "dataops-operator" / "files" / "alerts.yaml"
PROMETHEUS_SERIES = {"up"}  # what Prometheus itself records per target


def dashboard_exprs(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel, rows' nested panels included."""
    found: list[tuple[str, str]] = []

    def visit(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets") or []:
                found.append((panel["title"], target["expr"]))
            visit(panel.get("panels") or [])

    visit(json.loads(path.read_text())["panels"])
    return found


def substitute(expr: str, variables: dict[str, str] | None = None) -> str:
    """Grafana's template variables replaced by values, as Grafana sends the query."""
    values = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", **(variables or {})}

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"unknown dashboard variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def metric_names(expr: str) -> set[str]:
    """Every metric name a (variable-free) expression selects; raises ValueError when it does not parse."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                raise ValueError(f"a selector without a metric name in {expr!r}")
            names.add(node.name)
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, promql_parser.AggregateExpr):
            walk(node.expr)
            if node.param is not None:
                walk(node.param)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, (promql_parser.ParenExpr, promql_parser.UnaryExpr, promql_parser.SubqueryExpr)):
            walk(node.expr)
        elif not isinstance(node, (promql_parser.NumberLiteral, promql_parser.StringLiteral)):
            raise ValueError(f"unexpected PromQL node {type(node).__name__} in {expr!r}")

    walk(promql_parser.parse(expr))
    return names


def recorded_names(path: Path = RULES) -> set[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def exposed_series(exposition: str) -> set[str]:
    """Every series name an exposition declares (with or without samples): counters as name_total,
    histograms as their _bucket/_sum/_count series."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.update({f"{family.name}_total", f"{family.name}_created"})
        elif family.type == "histogram":
            names.update(f"{family.name}{s}" for s in ("_bucket", "_sum", "_count", "_created"))
        else:
            names.add(family.name)
    return names
