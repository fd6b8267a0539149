"""Pipeline metric facts (pure: status before and after -> facts) and their export: counted once,
levels from the written status, series removed with the pipeline."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dataops.api.v1alpha1.common import Condition, ConditionStatus
from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    DatasetCount,
    PipelinePhase,
    RunOutcome,
    RunRecord,
    RunTrigger,
    StreamingStatus,
)
from dataops.metrics.pipeline_facts import PipelineFacts
from dataops.metrics.pipeline_facts import pipeline_facts as _facts
from dataops.metrics.pipelines import DATASET_ROWS, DEAD_LETTERED, RUN_START_LATENCY, RUNS, PipelineMetrics
from dataops.plan.scheduling import DriverState

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def spec(example_pipeline: dict[str, Any]) -> DataPipelineSpec:
    return DataPipelineSpec.model_validate(example_pipeline["spec"])


def pipeline_facts(
    spec: DataPipelineSpec,
    previous: DataPipelineStatus | None,
    current: DataPipelineStatus,
    drivers: dict[tuple[str, int], DriverState],
    now: datetime = T0 + timedelta(hours=1),
) -> PipelineFacts:
    return _facts(spec, previous, current, drivers, created=T0 - timedelta(days=1), now=now)


def _run(run_id: str, outcome: RunOutcome, **fields: Any) -> RunRecord:
    return RunRecord(id=run_id, trigger=fields.pop("trigger", RunTrigger.MANUAL), outcome=outcome, **fields)


def _status(
    *, history: list[RunRecord] = (), active: list[RunRecord] = (), **fields: Any
) -> DataPipelineStatus:  # type: ignore[assignment]
    return DataPipelineStatus(
        conditions=fields.pop("conditions", []), history=list(history), active_runs=list(active), **fields
    )


def _done(
    run_id: str, outcome: RunOutcome = RunOutcome.SUCCEEDED, minutes: int = 1, **fields: Any
) -> RunRecord:
    return _run(run_id, outcome, start_time=T0, completion_time=T0 + timedelta(minutes=minutes), **fields)


def test_a_finished_run_is_counted_once(spec: DataPipelineSpec) -> None:
    a = _done("a")
    b = _done("b", RunOutcome.FAILED, minutes=2, message="driver failed")
    facts = pipeline_facts(spec, _status(history=[a]), _status(history=[a, b]), {})
    assert [(f.outcome, f.trigger, f.duration_seconds) for f in facts.finished] == [
        ("Failed", "Manual", 120.0)
    ]
    # The same status read again (a repeated reconcile, a new leader): nothing new.
    assert pipeline_facts(spec, _status(history=[a, b]), _status(history=[a, b]), {}).finished == []
    # A run that never ran has no duration.
    skipped = _run("c", RunOutcome.SKIPPED, completion_time=T0)
    assert pipeline_facts(spec, None, _status(history=[skipped]), {}).finished[0].duration_seconds is None


def test_quality_gates_inside_runs(spec: DataPipelineSpec) -> None:
    assert spec.quality_gates
    ok = _done("ok")
    gate = _done("gate", RunOutcome.FAILED, message="quality gate 'orders-quality': 2 expectations failed")
    other = _done("other", RunOutcome.FAILED, message="source 'orders': path not found")
    facts = pipeline_facts(spec, None, _status(history=[ok, gate, other]), {})
    assert [f.gates for f in facts.finished] == ["passed", "failed", None]
    no_gates = spec.model_copy(update={"quality_gates": []})
    assert [f.gates for f in pipeline_facts(no_gates, None, _status(history=[ok, gate]), {}).finished] == [
        None,
        None,
    ]


def test_rows_come_from_successful_runs_only(spec: DataPipelineSpec) -> None:
    ok = _done(
        "ok",
        rows_read=[DatasetCount(name="orders", rows=10)],
        rows_written=[DatasetCount(name="revenue", rows=3)],
    )
    failed = _done("bad", RunOutcome.FAILED, rows_written=[DatasetCount(name="revenue", rows=99)])
    facts = pipeline_facts(spec, None, _status(history=[ok, failed]), {})
    assert facts.finished[0].rows == {("orders", "read"): 10, ("revenue", "written"): 3}
    assert facts.finished[1].rows == {}
    assert facts.last_run_rows == {("orders", "read"): 10, ("revenue", "written"): 3}


def test_start_latency_from_trigger_to_driver_start(spec: DataPipelineSpec) -> None:
    launched = _run("m1", RunOutcome.PENDING, start_time=T0)
    slot = T0 - timedelta(seconds=10)
    scheduled = _run(
        "s1", RunOutcome.PENDING, start_time=T0, trigger=RunTrigger.SCHEDULE, scheduled_time=slot
    )
    before = _status(active=[launched, scheduled])
    after = _status(
        active=[
            launched.model_copy(update={"outcome": RunOutcome.RUNNING}),
            scheduled.model_copy(update={"outcome": RunOutcome.RUNNING}),
        ]
    )
    drivers = {
        ("m1", 1): DriverState(
            name="p-m1-1-driver",
            run_id="m1",
            attempt=1,
            phase="Running",
            start_time=T0 + timedelta(seconds=4),
        ),
        ("s1", 1): DriverState(
            name="p-s1-1-driver",
            run_id="s1",
            attempt=1,
            phase="Running",
            start_time=T0 + timedelta(seconds=2),
        ),
    }
    facts = pipeline_facts(spec, before, after, drivers)
    assert sorted(facts.start_latencies) == [("Manual", 4.0), ("Schedule", 12.0)]
    # Observed once: the next reconcile starts from Running.
    assert pipeline_facts(spec, after, after, drivers).start_latencies == []
    # A driver still Pending has not started.
    assert pipeline_facts(spec, before, before, drivers).start_latencies == []


def test_freshness_per_sink(spec: DataPipelineSpec) -> None:
    assert (
        pipeline_facts(spec, None, _status(history=[_done("bad", RunOutcome.FAILED)]), {}).last_publish == {}
    )
    older, newer = _done("a", minutes=1), _done("b", minutes=5)
    facts = pipeline_facts(
        spec, None, _status(history=[newer, older, _done("c", RunOutcome.FAILED, minutes=9)]), {}
    )
    assert facts.last_publish == {sink.name: (T0 + timedelta(minutes=5)).timestamp() for sink in spec.sinks}


def test_streaming_freshness_lag_and_dead_letters(example_pipeline: dict[str, Any]) -> None:
    doc = copy.deepcopy(example_pipeline["spec"])
    doc.pop("qualityGates")
    doc.pop("schedule")
    doc["mode"] = "Streaming"
    doc["sources"] = [{"name": "orders", "kafka": {"bootstrapServers": "k:9092", "topic": "orders"}}]
    doc["transforms"] = []
    doc["sinks"] = [{"name": "out", "from": "orders", "format": "delta", "path": "/tmp/out"}]
    try:
        spec = DataPipelineSpec.model_validate(doc)
    except ValueError as exc:  # the streaming model's required fields
        pytest.skip(f"streaming spec shape: {exc}")
    batch = T0 + timedelta(minutes=3)
    running = StreamingStatus(
        state="Running", last_batch_time=batch, consumer_lag=42, dead_lettered=5, skipped_offsets=30
    )
    facts = pipeline_facts(
        spec,
        _status(streaming=running.model_copy(update={"dead_lettered": 3, "skipped_offsets": None})),
        _status(streaming=running),
        {},
    )
    assert facts.consumer_lag == 42 and facts.dead_lettered_added == 2
    assert facts.skipped_offsets_added == 30
    assert facts.last_publish == {"out": batch.timestamp()}
    # A new job counts from zero again: its whole count is new.
    restarted = pipeline_facts(
        spec,
        _status(streaming=running),
        _status(streaming=running.model_copy(update={"dead_lettered": 1})),
        {},
    )
    assert restarted.dead_lettered_added == 1
    stopped = running.model_copy(update={"state": "Stopped"})
    assert pipeline_facts(spec, None, _status(streaming=stopped), {}).last_publish == {}


def _samples(collector: PipelineMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _degraded() -> Condition:
    return Condition(
        type="Degraded",
        status=ConditionStatus.TRUE,
        reason="RetriesExhausted",
        message="",
        last_transition_time=T0,
    )


def test_collector_exports_levels_and_forgets_pipelines(spec: DataPipelineSpec) -> None:
    metrics = PipelineMetrics()
    ok = _done("ok", rows_written=[DatasetCount(name="revenue", rows=3)])
    rows_before = DATASET_ROWS.labels("sales", "orders", "revenue", "written")._value.get()
    runs_before = RUNS.labels("Succeeded", "Manual")._value.get()
    metrics.observe(
        "sales", "orders", pipeline_facts(spec, None, _status(history=[ok], phase=PipelinePhase.READY), {})
    )
    metrics.observe(
        "sales",
        "broken",
        pipeline_facts(spec, None, _status(phase=PipelinePhase.DEGRADED, conditions=[_degraded()]), {}),
    )
    samples = _samples(metrics)
    assert samples[("dataops_pipelines", (("namespace", "sales"), ("phase", "Ready")))] == 1
    assert samples[("dataops_pipelines", (("namespace", "sales"), ("phase", "Degraded")))] == 1
    assert samples[("dataops_pipelines_degraded", (("namespace", "sales"),))] == 1
    freshness = (
        "dataops_sink_last_publish_timestamp_seconds",
        (("namespace", "sales"), ("pipeline", "orders"), ("sink", "revenue")),
    )
    assert samples[freshness] == (T0 + timedelta(minutes=1)).timestamp()
    assert DATASET_ROWS.labels("sales", "orders", "revenue", "written")._value.get() == rows_before + 3
    assert RUNS.labels("Succeeded", "Manual")._value.get() == runs_before + 1

    # The sink is renamed: its old series goes with the next reconcile.
    renamed = spec.model_copy(update={"sinks": [spec.sinks[0].model_copy(update={"name": "revenue2"})]})
    metrics.observe(
        "sales", "orders", pipeline_facts(renamed, _status(history=[ok]), _status(history=[ok]), {})
    )
    samples = _samples(metrics)
    assert freshness not in samples
    assert any(
        k[0] == "dataops_sink_last_publish_timestamp_seconds" and ("sink", "revenue2") in k[1]
        for k in samples
    )

    metrics.forget("sales", "orders")
    metrics.forget("sales", "broken")
    samples = _samples(metrics)
    assert not [k for k in samples if ("namespace", "sales") in k[1]]
    assert ("sales", "orders", "revenue", "written") not in {tuple(m) for m in DATASET_ROWS._metrics}


def test_dead_letters_and_latency_are_exported(spec: DataPipelineSpec) -> None:
    metrics = PipelineMetrics()
    before = RUN_START_LATENCY.labels("Manual")._sum.get()
    launched = _run("m1", RunOutcome.PENDING, start_time=T0)
    driver = DriverState(
        name="d", run_id="m1", attempt=1, phase="Running", start_time=T0 + timedelta(seconds=3)
    )
    facts = pipeline_facts(
        spec,
        _status(active=[launched]),
        _status(active=[launched.model_copy(update={"outcome": RunOutcome.RUNNING})]),
        {("m1", 1): driver},
    )
    metrics.observe("ns", "p", facts)
    assert RUN_START_LATENCY.labels("Manual")._sum.get() == before + 3
    streaming = _status(streaming=StreamingStatus(state="Running", dead_lettered=4))
    metrics.observe("ns", "s", pipeline_facts(spec, None, streaming, {}))
    assert DEAD_LETTERED.labels("ns", "s")._value.get() == 4
    metrics.forget("ns", "s")
    assert ("ns", "s") not in DEAD_LETTERED._metrics


def test_freshness_slo_per_sink(spec: DataPipelineSpec) -> None:
    slo = spec.model_copy(update={"sinks": [spec.sinks[0].model_copy(update={"max_age_seconds": 600})]})
    published = _done("ok", minutes=5)  # completed at T0 + 5m
    status = _status(history=[published])
    fresh = pipeline_facts(slo, None, status, {}, now=T0 + timedelta(minutes=14))
    assert fresh.max_age == {"revenue": 600} and fresh.fresh == {"revenue": True}
    stale = pipeline_facts(slo, None, status, {}, now=T0 + timedelta(minutes=15))
    assert stale.fresh == {"revenue": False}
    # No SLO: no max age, no verdict.
    assert pipeline_facts(spec, None, status, {}).fresh == {}
    metrics = PipelineMetrics()
    metrics.observe("fr", "orders", stale)
    samples = _samples(metrics)
    labels = (("namespace", "fr"), ("pipeline", "orders"), ("sink", "revenue"))
    assert samples[("dataops_sink_fresh", labels)] == 0
    assert samples[("dataops_sink_max_age_seconds", labels)] == 600


def test_model_metrics_of_the_newest_successful_run(spec: DataPipelineSpec) -> None:
    from dataops.api.v1alpha1.datapipeline import ModelRun

    def model(version: str, precision: float) -> ModelRun:
        return ModelRun(
            step="recs",
            version=version,
            location=f"/models/{version}",
            metrics={"rmse": 0.57, "precisionAt10": precision, "baselinePrecisionAt10": 0.07},
        )

    old = _done("old", minutes=1, models=[model("v1", 0.10)])
    new = _done("new", minutes=5, models=[model("v2", 0.12)])
    failed = _done("failed", RunOutcome.FAILED, minutes=9, models=[model("v3", 0.01)])
    metrics = PipelineMetrics()
    metrics.observe("shop", "batch", pipeline_facts(spec, None, _status(history=[old, new, failed]), {}))
    samples = _samples(metrics)

    def metric(name: str) -> float:
        labels = (("metric", name), ("namespace", "shop"), ("pipeline", "batch"), ("step", "recs"))
        return samples[("dataops_model_metric", labels)]

    assert metric("precisionAt10") == 0.12 and metric("baselinePrecisionAt10") == 0.07
    assert metric("rmse") == 0.57 and metric("version") == 2
    metrics.forget("shop", "batch")
    assert not [k for k in _samples(metrics) if k[0] == "dataops_model_metric"]
