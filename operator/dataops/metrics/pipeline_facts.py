"""What one DataPipeline reconcile learned, as metric facts. Pure: status before and after -> facts.

Transitions (a run finished, a driver started, dead letters added) are found by comparing the
status the reconcile read with the status it wrote, so a reconcile repeated after a failed status
write, or by a new leader after a restart, counts nothing twice. Levels (phase, freshness, lag) are
taken from the written status, so they are back on the first reconcile after an operator restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dataops.api.v1alpha1.common import ConditionType
from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    RunOutcome,
    RunRecord,
    RunTrigger,
)
from dataops.plan.scheduling import QUALITY_GATE_PREFIX, DriverState
from dataops.status.freshness import finished_runs, freshness_of, last_publish, newest_success

READ, WRITTEN = "read", "written"


@dataclass(frozen=True)
class FinishedRun:
    outcome: str
    trigger: str
    duration_seconds: float | None  # the last attempt, launch to completion (None when it never ran)
    gates: str | None  # "passed" / "failed" for runs with quality gates, None when they did not decide
    rows: dict[tuple[str, str], int]  # (dataset, direction) -> rows, successful runs only


@dataclass(frozen=True)
class PipelineFacts:
    phase: str
    degraded: bool
    finished: list[FinishedRun] = field(default_factory=list)
    start_latencies: list[tuple[str, float]] = field(default_factory=list)  # (trigger, seconds)
    last_run_rows: dict[tuple[str, str], int] = field(default_factory=dict)
    last_publish: dict[str, float] = field(default_factory=dict)  # sink -> unix time
    max_age: dict[str, int] = field(default_factory=dict)  # sink -> maxAgeSeconds (its freshness SLO)
    fresh: dict[str, bool] = field(default_factory=dict)  # sink -> within maxAgeSeconds (when known)
    consumer_lag: int | None = None
    dead_lettered_added: int = 0
    skipped_offsets_added: int = 0
    # (model step, metric) -> value of the newest successful run's models (rmse, precisionAt10, ...)
    model_metrics: dict[tuple[str, str], float] = field(default_factory=dict)


def pipeline_facts(
    spec: DataPipelineSpec,
    previous: DataPipelineStatus | None,
    current: DataPipelineStatus,
    drivers: dict[tuple[str, int], DriverState],
    *,
    created: datetime,
    now: datetime,
) -> PipelineFacts:
    """``drivers``: the attempts' drivers the reconcile observed, by (run id, attempt)."""
    driver_starts = {key: d.start_time for key, d in drivers.items() if d.start_time is not None}
    before = previous or DataPipelineStatus(conditions=[])
    recorded = {r.id for r in before.history}
    finished = [r for r in current.history if r.id not in recorded]
    slos = freshness_of(spec, current, created, now)
    published = last_publish(spec, finished_runs(current), current.streaming)
    degraded = any(c.type == ConditionType.DEGRADED and c.status.value == "True" for c in current.conditions)
    return PipelineFacts(
        phase=current.phase.value,
        degraded=degraded,
        finished=[_finished(spec, r) for r in finished],
        start_latencies=_start_latencies(before, current, finished, driver_starts),
        last_run_rows=_rows(newest_success(finished_runs(current))),
        last_publish={sink.name: published.timestamp() for sink in spec.sinks} if published else {},
        max_age={s.sink: s.max_age_seconds for s in slos},
        fresh={s.sink: s.fresh for s in slos if s.fresh is not None},
        consumer_lag=current.streaming.consumer_lag if current.streaming else None,
        dead_lettered_added=_count_added(before, current, "dead_lettered"),
        skipped_offsets_added=_count_added(before, current, "skipped_offsets"),
        model_metrics=_model_metrics(newest_success(finished_runs(current))),
    )


def _model_metrics(run: RunRecord | None) -> dict[tuple[str, str], float]:
    if run is None:
        return {}
    found = {(m.step, name): float(value) for m in run.models for name, value in m.metrics.items()}
    for model in run.models:  # the saved version as a number: v3 -> 3
        if model.version and model.version[1:].isdigit():
            found[(model.step, "version")] = float(model.version[1:])
    return found


def _finished(spec: DataPipelineSpec, run: RunRecord) -> FinishedRun:
    duration = None
    ran = run.outcome in (RunOutcome.SUCCEEDED, RunOutcome.FAILED)
    if ran and run.start_time is not None and run.completion_time is not None:
        duration = max(0.0, (run.completion_time - run.start_time).total_seconds())
    gates = None
    if spec.quality_gates and run.outcome == RunOutcome.SUCCEEDED:
        gates = "passed"
    elif (
        spec.quality_gates
        and run.outcome == RunOutcome.FAILED
        and run.message.startswith(QUALITY_GATE_PREFIX)
    ):
        gates = "failed"  # a blocking gate stopped the run (it is not retried)
    return FinishedRun(
        outcome=run.outcome.value,
        trigger=run.trigger.value,
        duration_seconds=duration,
        gates=gates,
        rows=_rows(run) if run.outcome == RunOutcome.SUCCEEDED else {},
    )


def _rows(run: RunRecord | None) -> dict[tuple[str, str], int]:
    if run is None:
        return {}
    rows = {(c.name, READ): c.rows for c in run.rows_read}
    rows.update({(c.name, WRITTEN): c.rows for c in run.rows_written})
    return rows


def _start_latencies(
    before: DataPipelineStatus,
    current: DataPipelineStatus,
    finished: list[RunRecord],
    driver_starts: dict[tuple[str, int], datetime],
) -> list[tuple[str, float]]:
    """Attempts whose driver was first seen started now: from the trigger (a Schedule run's slot for
    its first attempt, else the attempt's launch) to the driver's start."""
    pending = {(r.id, r.attempt): r for r in before.active_runs if r.outcome == RunOutcome.PENDING}
    latencies = []
    for run in [*current.active_runs, *finished]:
        launched = pending.get((run.id, run.attempt))
        started = driver_starts.get((run.id, run.attempt))
        if launched is None or started is None or run.outcome == RunOutcome.PENDING:
            continue
        if run.outcome in (RunOutcome.CANCELLED, RunOutcome.SKIPPED):
            continue
        trigger_time = launched.start_time
        if run.trigger == RunTrigger.SCHEDULE and run.attempt == 1 and run.scheduled_time is not None:
            trigger_time = run.scheduled_time
        if trigger_time is None:
            continue
        latencies.append((run.trigger.value, max(0.0, (started - trigger_time).total_seconds())))
    return latencies


def _count_added(before: DataPipelineStatus, current: DataPipelineStatus, count: str) -> int:
    """The job reports its own running counts; a smaller count than before is a new job's."""
    now: int | None = getattr(current.streaming, count) if current.streaming else None
    if now is None:
        return 0
    was: int = (getattr(before.streaming, count) if before.streaming else None) or 0
    return now - was if now >= was else now
