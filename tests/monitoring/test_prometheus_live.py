"""The chart's rules and the dashboard on live series: a real Prometheus scrapes the operator (running
against the real control plane, KWOK playing the drivers) every second and evaluates the rules as
the chart's PrometheusRule renders them, unchanged.

The failing-pipeline alert is tested with its shipped `for:`; the rule is built so that window can
be short: its expression is the operator's Degraded condition, which is only set after a run's
retries (with backoff) are exhausted and holds until the next successful run, so `for` has nothing
to debounce but a missed scrape or a leader hand-over.
"""

from __future__ import annotations

import copy
import json
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import DATA_PIPELINE, KubeClient
from tests.integration.conftest import (  # noqa: F401  (session fixtures: the control plane and operator)
    Operator,
    apply,
    condition,
    control_plane,
    kube,
    operator,
    wait_for,
)
from tests.monitoring.prometheus_server import PrometheusServer, chart_rule_groups
from tests.monitoring.promql import (
    PROMETHEUS_SERIES,
    RULES,
    dashboard_exprs,
    exposed_series,
    metric_names,
    recorded_names,
    substitute,
)

pytestmark = pytest.mark.cluster

ALERT = "DataOpsPipelineRunsFailing"
RUN_NOW = "dataops.dev/run-now"
WRITTEN = {"revenue": 7}
READ = {"orders": 300, "customers": 40}
MAX_AGE = 20  # orders-fresh's sink: fresh after its run, stale 20 seconds later


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text: str = response.read().decode()
            return text
    except OSError:
        return ""


def _shipped_rule(name: str) -> dict[str, Any]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == name]
    return dict(rule)


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)([smh])", duration)
    assert match, duration
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


@dataclass
class Scenario:
    namespace: str
    prometheus: PrometheusServer
    operator: Operator


def _pipeline(
    example: dict[str, Any], name: str, pod_annotations: dict[str, str], **spec: Any
) -> dict[str, Any]:
    doc = copy.deepcopy(example)
    doc["metadata"] = {"name": name, "annotations": {RUN_NOW: "1"}}
    doc["spec"]["schedule"]["cron"] = "0 0 1 1 *"  # far away: the runs are started by run-now
    doc["spec"]["spark"] = {"podAnnotations": pod_annotations}
    doc["spec"].update(spec)
    return doc


@pytest.fixture(scope="module")
def scenario(
    control_plane: ControlPlane,  # noqa: F811
    operator: Operator,  # noqa: F811
    kube: KubeClient,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scenario]:
    """One pipeline whose runs fail (retries exhausted: Degraded) and one that succeeds through its
    quality gate, in a namespace of their own, scraped by a live Prometheus."""
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", namespace)
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    prometheus = PrometheusServer(workdir, metrics_port=operator.metrics_port, groups=chart_rule_groups())
    prometheus.start()
    try:
        wait_for(prometheus.targets_up, timeout=30, what="the operator scraped")
        examples = Path(__file__).resolve().parents[2] / "examples"
        suite = yaml.safe_load((examples / "01-quality-suite.yaml").read_text())
        example = yaml.safe_load((examples / "03-orders-pipeline.yaml").read_text())
        failing = _pipeline(
            example,
            "orders-failing",
            {"kwok.dataops.dev/fail-attempts": "99"},
            retry={"maxRetries": 1, "backoffSeconds": 1, "maxBackoffSeconds": 1},
        )
        failing["spec"].pop("qualityGates")
        message = json.dumps({"rowsRead": READ, "rowsWritten": WRITTEN})
        succeeding = _pipeline(example, "orders-ok", {"kwok.dataops.dev/termination-message": message})
        fresh = _pipeline(example, "orders-fresh", {"kwok.dataops.dev/termination-message": message})
        fresh["spec"].pop("qualityGates")
        fresh["spec"]["sinks"][0]["maxAgeSeconds"] = MAX_AGE
        run = lambda *a, **k: control_plane.kubectl("-n", namespace, *a, **k)  # noqa: E731
        apply(run, suite, failing, succeeding, fresh)
        yield Scenario(namespace, prometheus, operator)
    finally:
        prometheus.stop()
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _alert_state(prometheus: PrometheusServer, namespace: str) -> dict[str, Any] | None:
    found = [a for a in prometheus.alerts(ALERT) if a["labels"].get("namespace") == namespace]
    return found[0] if found else None


def test_failing_pipeline_alert_goes_pending_then_firing(scenario: Scenario, kube: KubeClient) -> None:  # noqa: F811
    ns, prometheus = scenario.namespace, scenario.prometheus
    shipped = _shipped_rule(ALERT)
    window = _seconds(shipped["for"])
    # The live rule is the shipped one: same expression, same `for`.
    (live,) = [r for g in prometheus.rules() for r in g["rules"] if r["name"] == ALERT]
    assert live["query"].replace(" ", "") == shipped["expr"].replace(" ", "")
    assert live["duration"] == window

    degraded = wait_for(
        lambda: (
            (c := condition(kube.get(DATA_PIPELINE, ns, "orders-failing"), "Degraded"))
            and c["status"] == "True"
            and c
        ),
        timeout=90,
        what="the failing pipeline Degraded",
    )
    assert degraded["reason"] == "RetriesExhausted"
    pending = wait_for(
        lambda: (a := _alert_state(prometheus, ns)) and a["state"] == "pending" and a,
        timeout=20,
        interval=0.2,
        what=f"{ALERT} pending",
    )
    pending_seen = time.time()
    assert pending["labels"]["severity"] == "warning"
    assert float(pending["value"]) == 1  # one Degraded pipeline in the namespace
    assert _alert_state(prometheus, ns)["state"] == "pending"
    firing = wait_for(
        lambda: (a := _alert_state(prometheus, ns)) and a["state"] == "firing" and a,
        timeout=window + 20,
        interval=0.5,
        what=f"{ALERT} firing",
    )
    fired_seen = time.time()
    # It waited out its `for:` (not less), and fired within a few evaluations after it.
    assert fired_seen - pending_seen >= window - 3
    active_at = _timestamp(firing["activeAt"])
    assert window <= fired_seen - active_at <= window + 10
    assert f"kubectl get dp -n {ns}" in firing["annotations"]["description"]


def test_recording_rules_and_run_metrics_have_live_series(scenario: Scenario, kube: KubeClient) -> None:  # noqa: F811
    ns, prometheus = scenario.namespace, scenario.prometheus
    wait_for(
        lambda: (
            ((kube.get(DATA_PIPELINE, ns, "orders-ok") or {}).get("status") or {})
            .get("lastRun", {})
            .get("outcome")
            == "Succeeded"
        ),
        timeout=90,
        what="the succeeding pipeline's run",
    )

    def value(expr: str) -> float | None:
        result = prometheus.query(expr)
        return float(result[0]["value"][1]) if result else None

    selector = f'namespace="{ns}",pipeline="orders-ok"'
    wait_for(lambda: value(f"dataops_sink_last_publish_timestamp_seconds{{{selector}}}"), what="freshness")
    # Recorded series, evaluated by Prometheus from live series.
    staleness = wait_for(
        lambda: value(f'dataops:sink_staleness_seconds{{{selector},sink="revenue"}}'), what="staleness"
    )
    assert 0 <= staleness < 120
    assert wait_for(lambda: value('dataops:runs:rate5m{outcome="Failed"}'), what="failed run rate") > 0
    assert wait_for(lambda: value('dataops:runs:rate5m{outcome="Succeeded"}'), what="run rate") > 0
    ratio = wait_for(lambda: value("dataops:quality_pass_ratio:1h"), what="quality pass ratio")
    assert 0 < ratio <= 1
    assert (
        wait_for(lambda: value("dataops:run_start_latency_seconds:p95_1h"), what="start latency") is not None
    )
    for group in prometheus.rules():
        for rule in group["rules"]:
            assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
    # Rows per dataset are those the driver reported.
    for direction, counts in (("written", WRITTEN), ("read", READ)):
        for dataset, rows in counts.items():
            labels = f'{selector},dataset="{dataset}",direction="{direction}"'
            assert value(f"dataops_dataset_rows_total{{{labels}}}") == rows
            assert value(f"dataops_dataset_last_run_rows{{{labels}}}") == rows
    assert value('dataops_run_duration_seconds_count{outcome="Failed"}') >= 1
    assert (
        value('sum(dataops_run_start_latency_seconds_count{trigger="Manual"})') >= 3
    )  # 1 ok + 2 failed attempts


def test_dashboard_queries_run_live_and_name_exported_metrics(scenario: Scenario) -> None:
    ns, prometheus = scenario.namespace, scenario.prometheus
    exposition = wait_for(lambda: _scrape(scenario.operator.metrics_port), what="/metrics")
    exported = exposed_series(exposition) | recorded_names() | PROMETHEUS_SERIES
    with_data = set()
    for title, expr in dashboard_exprs():
        query = substitute(expr, {"namespace": ns, "datasource": "prometheus"})
        unknown = metric_names(query) - exported
        assert not unknown, f"panel {title!r} names metrics the operator does not export: {sorted(unknown)}"
        if prometheus.query(query):  # raises on any error Prometheus reports
            with_data.add(title)
    expected = {
        "Pipelines by phase",
        "Degraded pipelines",
        "Runs by outcome",
        "Data freshness per sink",
        "Last successful run: rows per dataset",
        "Freshness SLO per sink",
        "Quality pass rate (1h)",
        "Reconciles",
        "Leader",
        "Scrape health",
    }
    assert expected <= with_data, expected - with_data


def test_fresh_condition_and_metric_turn_stale(scenario: Scenario, kube: KubeClient) -> None:  # noqa: F811
    ns, prometheus = scenario.namespace, scenario.prometheus

    def fresh() -> dict[str, Any] | None:
        return condition(kube.get(DATA_PIPELINE, ns, "orders-fresh"), "Fresh")

    # Its first run (at the start of the module) is long stale by now: a new run publishes again.
    wait_for(lambda: (c := fresh()) and c["status"] == "False", timeout=90, what="stale since the first run")
    scenario.operator.cp.kubectl(
        "-n", ns, "annotate", "--overwrite", "dp", "orders-fresh", f"{RUN_NOW}=again"
    )
    published = wait_for(
        lambda: (c := fresh()) and c["status"] == "True" and c, timeout=60, what="Fresh after the new run"
    )
    assert published["reason"] == "DataFresh"
    selector = f'namespace="{ns}",pipeline="orders-fresh",sink="revenue"'
    assert [
        float(s["value"][1]) for s in prometheus.query(f"dataops_sink_max_age_seconds{{{selector}}}")
    ] == [MAX_AGE]
    status = (kube.get(DATA_PIPELINE, ns, "orders-fresh") or {})["status"]
    completed = _timestamp(status["lastRun"]["completionTime"])
    stale = wait_for(
        lambda: (c := fresh()) and c["status"] == "False" and c, timeout=MAX_AGE + 30, what="Fresh=False"
    )
    assert stale["reason"] == "DataStale" and f"maxAgeSeconds {MAX_AGE}" in stale["message"]
    # Not before the SLO ran out (the clock is the operator's, at second precision).
    assert _timestamp(stale["lastTransitionTime"]) >= completed + MAX_AGE - 1
    wait_for(
        lambda: (
            [float(s["value"][1]) for s in prometheus.query(f"dataops_sink_fresh{{{selector}}}")] == [0.0]
        ),
        what="dataops_sink_fresh 0 in Prometheus",
    )
    wait_for(
        lambda: any(
            a["labels"].get("sink") == "revenue"
            for a in prometheus.alerts("DataOpsSinkStale")
            if a["labels"].get("namespace") == ns
        ),
        what="DataOpsSinkStale pending",
    )


def test_deleted_pipeline_leaves_no_series_and_the_alert_resolves(scenario: Scenario) -> None:
    ns, prometheus = scenario.namespace, scenario.prometheus
    port = scenario.operator.metrics_port
    assert 'pipeline="orders-ok"' in wait_for(lambda: _scrape(port), what="/metrics")
    run = scenario.operator.cp.kubectl
    run("-n", ns, "delete", "dp", "--all", "--wait=true")
    wait_for(lambda: (t := _scrape(port)) and f'namespace="{ns}"' not in t, timeout=30, what="series removed")
    wait_for(lambda: _alert_state(prometheus, ns) is None, timeout=30, what=f"{ALERT} resolved")


def _timestamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
