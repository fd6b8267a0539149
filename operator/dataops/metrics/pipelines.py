"""Metrics of pipeline runs and the data they move.

Run metrics (outcomes, durations, start latency, quality gates) carry only bounded labels
(outcome, trigger). The data metrics the issue asks per dataset and per sink (rows, freshness) and
the streaming ones (lag, dead letters) carry namespace/pipeline/dataset|sink: their number is bounded
by the objects on the cluster, and a pipeline's series are removed when the pipeline is deleted.
Per-pipeline levels are served by a collector from the last reconcile's facts, so a deleted
pipeline, or a sink removed from a spec, leaves no stale series behind.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dataops.metrics.pipeline_facts import READ, WRITTEN, PipelineFacts

OUTCOMES = ("Succeeded", "Failed", "Cancelled", "Skipped")
TRIGGERS = ("Schedule", "Manual", "Retry", "Continuous")
PHASES = ("Pending", "Ready", "Blocked", "Suspended", "Running", "Degraded", "Failed")

RUNS = Counter("dataops_runs_total", "Finished pipeline runs by outcome and trigger", ["outcome", "trigger"])
RUN_SECONDS = Histogram(
    "dataops_run_duration_seconds",
    "Wall time of a finished run's last attempt, from its launch to the driver's end",
    ["outcome"],
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400),
)
RUN_START_LATENCY = Histogram(
    "dataops_run_start_latency_seconds",
    "From a run's trigger (a Schedule run's slot, else the attempt's launch) to its driver starting",
    ["trigger"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
QUALITY_GATE_RUNS = Counter(
    "dataops_quality_gate_runs_total",
    "Finished runs with quality gates, by what the gates decided (passed, failed)",
    ["outcome"],
)
DATASET_ROWS = Counter(
    "dataops_dataset_rows_total",
    "Rows successful runs read (sources) or wrote (sinks), per dataset",
    ["namespace", "pipeline", "dataset", "direction"],
)
DEAD_LETTERED = Counter(
    "dataops_streaming_dead_lettered_total",
    "Records a streaming job sent to its dead-letter topic",
    ["namespace", "pipeline"],
)
SKIPPED_OFFSETS = Counter(
    "dataops_streaming_skipped_offsets_total",
    "Offsets deleted from a streaming job's topic before it read them (onDataLoss: Continue)",
    ["namespace", "pipeline"],
)

for _outcome in OUTCOMES:  # a series that appears at 1 has no increase(): start them at 0
    for _trigger in TRIGGERS:
        RUNS.labels(_outcome, _trigger)
for _gate in ("passed", "failed"):
    QUALITY_GATE_RUNS.labels(_gate)

Key = tuple[str, str]  # (namespace, pipeline)


class PipelineMetrics(Collector):
    """The latest facts per pipeline, exported as gauges at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[Key, PipelineFacts] = {}
        self._counted: dict[Key, set[tuple[str, ...]]] = {}  # counter label sets, to remove them

    def observe(self, namespace: str, pipeline: str, facts: PipelineFacts) -> None:
        key = (namespace, pipeline)
        for run in facts.finished:
            RUNS.labels(run.outcome, run.trigger).inc()
            if run.duration_seconds is not None:
                RUN_SECONDS.labels(run.outcome).observe(run.duration_seconds)
            if run.gates is not None:
                QUALITY_GATE_RUNS.labels(run.gates).inc()
            for (dataset, direction), rows in run.rows.items():
                DATASET_ROWS.labels(namespace, pipeline, dataset, direction).inc(rows)
                self._remember(key, ("rows", dataset, direction))
        for trigger, seconds in facts.start_latencies:
            RUN_START_LATENCY.labels(trigger).observe(seconds)
        if facts.dead_lettered_added:
            DEAD_LETTERED.labels(namespace, pipeline).inc(facts.dead_lettered_added)
            self._remember(key, ("dead",))
        if facts.skipped_offsets_added:
            SKIPPED_OFFSETS.labels(namespace, pipeline).inc(facts.skipped_offsets_added)
            self._remember(key, ("skipped",))
        with self._lock:
            self._facts[key] = facts

    def forget(self, namespace: str, pipeline: str) -> None:
        """The pipeline is gone: none of its series remain."""
        key = (namespace, pipeline)
        with self._lock:
            self._facts.pop(key, None)
            counted = self._counted.pop(key, set())
        for labels in counted:
            if labels[0] == "rows":
                DATASET_ROWS.remove(namespace, pipeline, *labels[1:])
            elif labels[0] == "skipped":
                SKIPPED_OFFSETS.remove(namespace, pipeline)
            else:
                DEAD_LETTERED.remove(namespace, pipeline)

    def _remember(self, key: Key, labels: tuple[str, ...]) -> None:
        with self._lock:
            self._counted.setdefault(key, set()).add(labels)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            facts = dict(self._facts)
        pipelines = GaugeMetricFamily(
            "dataops_pipelines", "DataPipelines by namespace and phase", labels=["namespace", "phase"]
        )
        degraded = GaugeMetricFamily(
            "dataops_pipelines_degraded",
            "DataPipelines whose last run failed after exhausting its retries (Degraded=True), by namespace",
            labels=["namespace"],
        )
        rows = GaugeMetricFamily(
            "dataops_dataset_last_run_rows",
            "Rows the newest successful run read or wrote, per dataset",
            labels=["namespace", "pipeline", "dataset", "direction"],
        )
        published = GaugeMetricFamily(
            "dataops_sink_last_publish_timestamp_seconds",
            "When a sink's data was last published (a successful run, or a streaming micro-batch)",
            labels=["namespace", "pipeline", "sink"],
        )
        max_age = GaugeMetricFamily(
            "dataops_sink_max_age_seconds",
            "A sink's freshness SLO (spec.sinks[].maxAgeSeconds)",
            labels=["namespace", "pipeline", "sink"],
        )
        fresh = GaugeMetricFamily(
            "dataops_sink_fresh",
            "1 while a sink with maxAgeSeconds was published within it, 0 when stale (Fresh condition)",
            labels=["namespace", "pipeline", "sink"],
        )
        lag = GaugeMetricFamily(
            "dataops_streaming_consumer_lag",
            "Kafka offsets the streaming job is behind the newest, over all partitions",
            labels=["namespace", "pipeline"],
        )
        models = GaugeMetricFamily(
            "dataops_model_metric",
            "Held-out metrics (rmse, precisionAt<k>, baselinePrecisionAt<k>) and saved version of the newest "
            "successful run's model steps",
            labels=["namespace", "pipeline", "step", "metric"],
        )
        phases: dict[str, Tally[str]] = {}
        for (namespace, pipeline), fact in sorted(facts.items()):
            for (step, metric), value in sorted(fact.model_metrics.items()):
                models.add_metric([namespace, pipeline, step, metric], value)
            phases.setdefault(namespace, Tally())[fact.phase] += 1
            phases[namespace]["degraded"] += fact.degraded
            for (dataset, direction), count in sorted(fact.last_run_rows.items()):
                rows.add_metric([namespace, pipeline, dataset, direction], count)
            for sink, when in sorted(fact.last_publish.items()):
                published.add_metric([namespace, pipeline, sink], when)
            for sink, seconds in sorted(fact.max_age.items()):
                max_age.add_metric([namespace, pipeline, sink], seconds)
            for sink, ok in sorted(fact.fresh.items()):
                fresh.add_metric([namespace, pipeline, sink], 1 if ok else 0)
            if fact.consumer_lag is not None:
                lag.add_metric([namespace, pipeline], fact.consumer_lag)
        for namespace, tally in phases.items():
            for phase in PHASES:
                pipelines.add_metric([namespace, phase], tally[phase])
            degraded.add_metric([namespace], tally["degraded"])
        yield from (pipelines, degraded, rows, published, max_age, fresh, lag, models)


PIPELINES = PipelineMetrics()
REGISTRY.register(PIPELINES)

__all__ = ["PIPELINES", "READ", "WRITTEN", "PipelineMetrics"]
