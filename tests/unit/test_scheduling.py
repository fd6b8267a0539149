"""Run lifecycle decisions (pure): triggers, concurrency, retries, timeouts, schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, DataPipelineStatus, RunOutcome, RunTrigger
from dataops.plan.scheduling import (
    DriverState,
    RunDecision,
    backoff_seconds,
    decide,
    driver_state_from_pod,
    latest_due,
    next_due,
    run_id_for,
)

CREATED = datetime(2026, 11, 25, 9, 58, tzinfo=UTC)


def _spec(example_pipeline: dict[str, Any], **changes: Any) -> DataPipelineSpec:
    spec = example_pipeline["spec"]
    spec["schedule"] = {"cron": "*/5 * * * *", "timeZone": "UTC", **changes.pop("schedule", {})}
    spec.update(changes)
    return DataPipelineSpec.model_validate(spec)


def _decide(
    spec: DataPipelineSpec,
    status: DataPipelineStatus | None,
    now: datetime,
    drivers: dict[tuple[str, int], DriverState] | None = None,
    annotations: dict[str, str] | None = None,
    can_start: bool = True,
) -> RunDecision:
    return decide(
        name="p",
        uid="uid",
        spec=spec,
        status=status,
        drivers=drivers or {},
        annotations=annotations or {},
        created=CREATED,
        now=now,
        can_start=can_start,
    )


def _after(status: DataPipelineStatus | None, d: RunDecision) -> DataPipelineStatus:
    base = status or DataPipelineStatus(conditions=[])
    return base.model_copy(
        update={
            "active_runs": d.active,
            "last_schedule_time": d.last_schedule_time,
            "last_manual_trigger": d.last_manual_trigger,
            "history": base.history + d.finished,
            "last_run": d.finished[-1] if d.finished else base.last_run,
        }
    )


def test_backoff_is_exponential_and_capped(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, retry={"maxRetries": 10, "backoffSeconds": 10, "maxBackoffSeconds": 60})
    assert [backoff_seconds(spec, n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_schedule_slots_respect_time_zone() -> None:
    now = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # 02:30 in Berlin
    due = latest_due("0 2 * * *", "Europe/Berlin", now - timedelta(days=1), now)
    assert due is not None and due.astimezone(UTC) == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert latest_due("0 2 * * *", "Europe/Berlin", due, now) is None
    assert next_due("0 2 * * *", "Europe/Berlin", now).astimezone(UTC) == datetime(
        2026, 11, 26, 1, 0, tzinfo=UTC
    )


def test_schedule_starts_one_run_per_slot(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline)
    now = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    first = _decide(spec, None, now)
    (run,) = first.launch
    assert run.trigger == RunTrigger.SCHEDULE
    assert run.scheduled_time == datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    assert run.id == run_id_for("s", "uid", run.scheduled_time.isoformat())
    assert run.driver_pod == f"p-{run.id}-1-driver"
    assert first.requeue_after(now) == pytest.approx(180)
    again = _decide(
        spec, _after(None, first), now, drivers={(run.id, 1): DriverState("x", run.id, 1, "Running")}
    )
    assert again.launch == [] and [r.id for r in again.active] == [run.id]


def test_forbid_skips_and_replace_cancels(example_pipeline: dict[str, Any]) -> None:
    now = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    later = now + timedelta(minutes=5)
    forbid = _spec(example_pipeline, schedule={"concurrencyPolicy": "Forbid"})
    first = _decide(forbid, None, now)
    run = first.launch[0]
    running = {(run.id, 1): DriverState(run.driver_pod or "", run.id, 1, "Running")}
    skipped = _decide(forbid, _after(None, first), later, drivers=running)
    assert skipped.launch == [] and [e.reason for e in skipped.events] == ["RunSkipped"]
    assert skipped.last_schedule_time == datetime(2026, 11, 25, 10, 10, tzinfo=UTC)

    replace = _spec(example_pipeline, schedule={"concurrencyPolicy": "Replace"})
    replaced = _decide(replace, _after(None, first), later, drivers=running)
    assert replaced.delete == [run.driver_pod]
    assert [(r.id, r.outcome) for r in replaced.finished] == [(run.id, RunOutcome.CANCELLED)]
    assert len(replaced.launch) == 1 and replaced.launch[0].id != run.id

    allow = _spec(example_pipeline, schedule={"concurrencyPolicy": "Allow"})
    both = _decide(allow, _after(None, first), later, drivers=running)
    assert len(both.active) == 2 and len(both.launch) == 1


def test_failure_retries_with_backoff_then_gives_up(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, retry={"maxRetries": 1, "backoffSeconds": 30, "maxBackoffSeconds": 600})
    now = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    first = _decide(spec, None, now)
    run = first.launch[0]
    failed = {(run.id, 1): DriverState("d1", run.id, 1, "Failed", message="OOMKilled")}
    retry = _decide(spec, _after(None, first), now, drivers=failed)
    (waiting,) = retry.active
    assert (waiting.attempt, waiting.outcome) == (2, RunOutcome.RETRYING)
    assert waiting.not_before == now + timedelta(seconds=30)
    assert retry.launch == [] and retry.requeue_after(now) == pytest.approx(30)
    status = _after(None, retry)
    too_early = _decide(spec, status, now + timedelta(seconds=10), drivers=failed)
    assert too_early.launch == []
    relaunch = _decide(spec, status, now + timedelta(seconds=31), drivers=failed)
    assert [(r.id, r.attempt) for r in relaunch.launch] == [(run.id, 2)]
    failed[(run.id, 2)] = DriverState("d2", run.id, 2, "Failed", message="boom")
    final = _decide(spec, _after(status, relaunch), now + timedelta(seconds=40), drivers=failed)
    (done,) = final.finished
    assert (done.outcome, done.attempt, done.message) == (RunOutcome.FAILED, 2, "boom")
    assert final.active == []
    assert "RunFailed" in [e.reason for e in final.events]


def test_timeout_deletes_the_driver(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, timeoutSeconds=60, retry={"maxRetries": 0})
    now = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    first = _decide(spec, None, now)
    run = first.launch[0]
    running = {(run.id, 1): DriverState("d1", run.id, 1, "Running", start_time=now)}
    status = _after(None, first)
    ok = _decide(spec, status, now + timedelta(seconds=30), drivers=running)
    assert ok.delete == [] and ok.requeue_after(now + timedelta(seconds=30)) == pytest.approx(30)
    late = _decide(spec, _after(status, ok), now + timedelta(seconds=61), drivers=running)
    assert late.delete == ["d1"]
    assert late.finished[0].message == "timed out after 60s"


def test_run_now_once_per_token_even_when_suspended(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, suspend=True)
    now = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    first = _decide(spec, None, now, annotations={"dataops.dev/run-now": "a"})
    assert [r.trigger for r in first.launch] == [RunTrigger.MANUAL]
    status = _after(None, first)
    done = {(first.launch[0].id, 1): DriverState("d", first.launch[0].id, 1, "Succeeded")}
    again = _decide(spec, status, now, drivers=done, annotations={"dataops.dev/run-now": "a"})
    assert again.launch == []
    assert _decide(
        spec, _after(status, again), now, drivers=done, annotations={"dataops.dev/run-now": "b"}
    ).launch


def test_blocked_pipeline_starts_nothing_and_missed_deadline(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, schedule={"startingDeadlineSeconds": 60})
    now = datetime(2026, 11, 25, 10, 9, tzinfo=UTC)
    assert _decide(spec, None, now, can_start=False).launch == []
    missed = _decide(spec, None, now)
    # 10:00 was overtaken by 10:05, and 10:05 is past its deadline: both are on record as skipped.
    assert missed.launch == [] and [e.reason for e in missed.events] == ["ScheduleMissed"] * 2
    assert [(r.outcome, r.scheduled_time) for r in missed.finished] == [
        (RunOutcome.SKIPPED, datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        (RunOutcome.SKIPPED, datetime(2026, 11, 25, 10, 5, tzinfo=UTC)),
    ]


def test_driver_state_from_pod() -> None:
    pod = {
        "metadata": {
            "name": "p-s1-2-driver",
            "labels": {"dataops.dev/run-id": "s1", "dataops.dev/attempt": "2"},
        },
        "status": {
            "phase": "Failed",
            "startTime": "2026-11-25T10:00:00Z",
            "containerStatuses": [
                {
                    "state": {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "OOMKilled",
                            "finishedAt": "2026-11-25T10:01:00Z",
                        }
                    }
                }
            ],
        },
    }
    state = driver_state_from_pod(pod)
    assert state is not None
    assert (state.run_id, state.attempt, state.phase) == ("s1", 2, "Failed")
    assert state.message == "OOMKilled (exit code 137)"
    assert state.finish_time == datetime(2026, 11, 25, 10, 1, tzinfo=UTC)
    assert driver_state_from_pod({"metadata": {"name": "x"}}) is None


def test_pending_driver_keeps_the_run_pending_and_counts_from_launch(
    example_pipeline: dict[str, Any],
) -> None:
    spec = _spec(example_pipeline, timeoutSeconds=60, retry={"maxRetries": 0})
    now = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    first = _decide(spec, None, now)
    run = first.launch[0]
    assert run.start_time == now
    pending = {(run.id, 1): DriverState("d1", run.id, 1, "Pending")}
    still = _decide(spec, _after(None, first), now + timedelta(seconds=5), drivers=pending)
    assert [(r.outcome, r.start_time) for r in still.active] == [(RunOutcome.PENDING, now)]
    stuck = _decide(spec, _after(None, still), now + timedelta(seconds=61), drivers=pending)
    assert stuck.delete == ["d1"] and stuck.finished[0].message == "timed out after 60s"
    running = {(run.id, 1): DriverState("d1", run.id, 1, "Running")}
    moving = _decide(spec, _after(None, still), now + timedelta(seconds=6), drivers=running)
    assert [r.outcome for r in moving.active] == [RunOutcome.RUNNING]


def test_a_failed_quality_gate_is_not_retried(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, retry={"maxRetries": 3, "backoffSeconds": 30, "maxBackoffSeconds": 600})
    now = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    first = _decide(spec, None, now)
    run = first.launch[0]
    message = "quality gate 'orders-quality on completed': 1 expectation(s) failed, nothing was written: ..."
    failed = {(run.id, 1): DriverState("d1", run.id, 1, "Failed", message=message)}
    final = _decide(spec, _after(None, first), now, drivers=failed)
    (done,) = final.finished
    assert (done.outcome, done.attempt, done.message) == (RunOutcome.FAILED, 1, message)
    assert final.active == [] and "RunFailed" in [e.reason for e in final.events]


def test_status_says_which_columns_a_run_masked_and_why(example_pipeline: dict[str, Any]) -> None:
    """The driver's summary names masked columns (never values); the run record in status keeps them,
    also when the driver had to shorten its message to the column names."""
    spec = _spec(example_pipeline)
    now = datetime(2026, 11, 25, 10, 1, tzinfo=UTC)
    first = _decide(spec, None, now)
    (run,) = first.launch
    status = _after(None, first)
    for masked, reasons in (
        (
            {"revenue": {"email": "hash (email): piiColumns rule email"}},
            ["hash (email): piiColumns rule email"],
        ),
        ({"revenue": ["email"]}, []),
    ):
        message = json.dumps({"rowsWritten": {"revenue": 5}, "masked": masked})
        driver = DriverState(run.driver_pod or "", run.id, 1, "Succeeded", message=message)
        done = _decide(spec, status, now + timedelta(seconds=30), drivers={(run.id, 1): driver})
        (record,) = done.finished
        assert [(m.sink, m.columns, m.reasons) for m in record.masked] == [("revenue", ["email"], reasons)]
