"""The Fresh condition: sinks with maxAgeSeconds, published within it or not. Pure."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from dataops.api.v1alpha1.common import ConditionStatus
from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    RunOutcome,
    RunRecord,
    RunTrigger,
)
from dataops.status.freshness import freshness_condition, freshness_of
from dataops.status.pipeline import PipelineObservation, pipeline_status

CREATED = datetime(2026, 11, 1, tzinfo=UTC)
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _spec(example_pipeline: dict[str, Any], **max_ages: int) -> DataPipelineSpec:
    doc = copy.deepcopy(example_pipeline["spec"])
    extra = dict(doc["sinks"][0], name="revenue_copy")
    doc["sinks"] = [doc["sinks"][0], extra]
    for sink in doc["sinks"]:
        if sink["name"] in max_ages:
            sink["maxAgeSeconds"] = max_ages[sink["name"]]
    return DataPipelineSpec.model_validate(doc)


def _status(*outcomes: tuple[RunOutcome, datetime]) -> DataPipelineStatus:
    history = [
        RunRecord(
            id=f"r{i}",
            trigger=RunTrigger.MANUAL,
            outcome=o,
            start_time=t - timedelta(minutes=1),
            completion_time=t,
        )
        for i, (o, t) in enumerate(outcomes)
    ]
    return DataPipelineStatus(conditions=[], history=history, last_run=history[-1] if history else None)


def test_no_max_age_no_condition(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline)
    assert freshness_condition(freshness_of(spec, _status(), CREATED, T0)) is None


def test_fresh_then_stale_by_the_newest_successful_run(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, revenue=3600, revenue_copy=7200)
    status = _status((RunOutcome.SUCCEEDED, T0), (RunOutcome.FAILED, T0 + timedelta(minutes=30)))
    fresh = freshness_condition(freshness_of(spec, status, CREATED, T0 + timedelta(minutes=59)))
    assert fresh is not None and (fresh.status, fresh.reason.value) == (ConditionStatus.TRUE, "DataFresh")
    stale = freshness_condition(freshness_of(spec, status, CREATED, T0 + timedelta(minutes=60)))
    assert stale is not None and (stale.status, stale.reason.value) == (ConditionStatus.FALSE, "DataStale")
    assert "revenue:" in stale.message and "revenue_copy" not in stale.message  # 2h SLO still met
    (first, second) = freshness_of(spec, status, CREATED, T0)
    assert first.stale_at == T0 + timedelta(hours=1) and second.stale_at == T0 + timedelta(hours=2)


def test_never_published_counts_from_creation(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, revenue=600)
    created = T0 - timedelta(minutes=5)
    waiting = freshness_condition(freshness_of(spec, _status((RunOutcome.FAILED, T0)), created, T0))
    assert waiting is not None and (waiting.status, waiting.reason.value) == (
        ConditionStatus.UNKNOWN,
        "NotYetPublished",
    )
    late = freshness_condition(freshness_of(spec, _status(), created, T0 + timedelta(minutes=5)))
    assert late is not None and late.status == ConditionStatus.FALSE and "never published" in late.message


def test_pipeline_status_carries_the_fresh_condition(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, revenue=60)
    previous = _status((RunOutcome.SUCCEEDED, T0))
    obs = PipelineObservation(generation=1, spec=spec, created=CREATED)
    status = pipeline_status(previous, obs, now=T0 + timedelta(seconds=30))
    (fresh,) = [c for c in status.conditions if c.type.value == "Fresh"]
    assert fresh.status == ConditionStatus.TRUE
    later = pipeline_status(status, obs, now=T0 + timedelta(seconds=61))
    (stale,) = [c for c in later.conditions if c.type.value == "Fresh"]
    assert stale.status == ConditionStatus.FALSE and stale.last_transition_time == T0 + timedelta(seconds=61)
    # The SLO removed: the condition goes.
    plain = PipelineObservation(generation=2, spec=_spec(example_pipeline), created=CREATED)
    assert "Fresh" not in {c.type.value for c in pipeline_status(later, plain, now=T0).conditions}


@pytest.mark.parametrize("bad", [0, -5, 31_536_001, "1h"])
def test_max_age_must_be_a_positive_number_of_seconds(example_pipeline: dict[str, Any], bad: Any) -> None:
    example_pipeline["spec"]["sinks"][0]["maxAgeSeconds"] = bad
    with pytest.raises(ValidationError, match=r"maxAgeSeconds|max_age_seconds"):
        DataPipelineSpec.model_validate(example_pipeline["spec"])


def test_reconcile_wakes_up_when_a_sink_goes_stale(example_pipeline: dict[str, Any]) -> None:
    """No event marks the moment data goes stale: the reconcile asks to look again then."""
    from dataops.kube.client import DATA_PIPELINE
    from dataops.reconcile.pipeline import reconcile_pipeline
    from tests.unit.fake_kube import FakeKube

    doc = copy.deepcopy(example_pipeline)
    doc["spec"].pop("schedule")
    doc["spec"].pop("qualityGates")
    doc["spec"]["sinks"][0]["maxAgeSeconds"] = 600
    run = {"id": "m1", "trigger": "Manual", "outcome": "Succeeded", "completionTime": "2026-11-26T12:00:00Z"}
    doc["metadata"].update(
        namespace="sales", uid="uid-1", generation=1, creationTimestamp="2026-11-01T00:00:00Z"
    )
    doc["status"] = {"conditions": [], "history": [run], "lastRun": run}
    kube = FakeKube()
    kube.put(doc)

    def reconcile(at: datetime) -> tuple[float | None, dict[str, Any]]:
        body = kube.get(DATA_PIPELINE, "sales", "orders-daily")
        assert body is not None
        outcome = reconcile_pipeline(kube, body, now=at)  # type: ignore[arg-type]
        after = kube.get(DATA_PIPELINE, "sales", "orders-daily")
        assert after is not None
        return outcome.requeue_after, next(c for c in after["status"]["conditions"] if c["type"] == "Fresh")

    wake, fresh = reconcile(T0 + timedelta(seconds=100))
    assert fresh["status"] == "True" and wake == pytest.approx(500)
    wake, stale = reconcile(T0 + timedelta(seconds=600))
    assert (stale["status"], stale["reason"]) == ("False", "DataStale") and wake is None
    assert "revenue: last published 2026-11-26T12:00:00+00:00, maxAgeSeconds 600" in stale["message"]


def _condition(status: DataPipelineStatus, kind: str) -> tuple[str, str, str]:
    (cond,) = [c for c in status.conditions if c.type.value == kind]
    return cond.status.value, cond.reason.value, cond.message


@pytest.mark.parametrize(
    ("outcomes", "age_seconds", "want_ready", "want_reason", "want_phase"),
    [
        ((), 30, "True", "Reconciled", "Ready"),  # never ran, SLO not due yet
        (((RunOutcome.SUCCEEDED, 0),), 30, "True", "Reconciled", "Ready"),
        (((RunOutcome.SUCCEEDED, 0),), 61, "False", "DataStale", "Ready"),
        (((RunOutcome.SUCCEEDED, 0), (RunOutcome.FAILED, 10)), 30, "False", "LastRunFailed", "Degraded"),
        (((RunOutcome.FAILED, 0), (RunOutcome.SUCCEEDED, 10)), 30, "True", "Reconciled", "Ready"),
        (((RunOutcome.SUCCEEDED, 0), (RunOutcome.CANCELLED, 10)), 30, "True", "Reconciled", "Ready"),
        # failed AND stale: the failed run is the cause to report
        (((RunOutcome.SUCCEEDED, 0), (RunOutcome.FAILED, 10)), 120, "False", "LastRunFailed", "Degraded"),
    ],
)
def test_ready_means_configured_last_run_succeeded_and_data_fresh(
    example_pipeline: dict[str, Any],
    outcomes: tuple[tuple[RunOutcome, int], ...],
    age_seconds: int,
    want_ready: str,
    want_reason: str,
    want_phase: str,
) -> None:
    spec = _spec(example_pipeline, revenue=60)
    previous = _status(*((o, T0 + timedelta(seconds=s)) for o, s in outcomes))
    obs = PipelineObservation(generation=1, spec=spec, created=T0 - timedelta(seconds=1))
    status = pipeline_status(previous, obs, now=T0 + timedelta(seconds=age_seconds))
    ready, reason, message = _condition(status, "Ready")
    assert (ready, reason, status.phase.value) == (want_ready, want_reason, want_phase)
    assert _condition(status, "Configured")[:2] == ("True", "Reconciled")
    if reason == "LastRunFailed":
        assert message.startswith(f"run {previous.last_run.id} failed") if previous.last_run else False
    if reason == "DataStale":
        assert "revenue: last published" in message


def test_configuration_failures_win_over_run_and_freshness(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, revenue=60)
    previous = _status((RunOutcome.FAILED, T0))
    obs = PipelineObservation(generation=1, spec=spec, created=CREATED, missing_suites=["gone"])
    status = pipeline_status(previous, obs, now=T0 + timedelta(hours=1))
    assert _condition(status, "Ready")[:2] == ("False", "QualitySuiteNotFound")
    assert _condition(status, "Configured")[:2] == ("False", "QualitySuiteNotFound")
    assert status.phase.value == "Blocked"


def test_data_aware_ready_adds_no_duplicate_events(example_pipeline: dict[str, Any]) -> None:
    """A failed run tells Degraded=True and a stale sink Fresh=False; Ready going False for those
    reasons adds no second Warning. Ready coming back is told once."""
    from dataops.status.events import transition_events

    spec = _spec(example_pipeline, revenue=60)
    obs = PipelineObservation(generation=1, spec=spec, created=CREATED)
    ok = pipeline_status(_status((RunOutcome.SUCCEEDED, T0)), obs, now=T0 + timedelta(seconds=1))
    failed = pipeline_status(
        ok.model_copy(update={"last_run": _status((RunOutcome.FAILED, T0)).last_run}),
        obs,
        now=T0 + timedelta(seconds=2),
    )
    assert [(e.type, e.reason) for e in transition_events(ok.conditions, failed.conditions)] == [
        ("Warning", "RetriesExhausted")
    ]
    stale = pipeline_status(ok, obs, now=T0 + timedelta(seconds=61))
    assert [(e.type, e.reason) for e in transition_events(ok.conditions, stale.conditions)] == [
        ("Warning", "DataStale")
    ]
    back = pipeline_status(stale, obs, now=T0 + timedelta(seconds=62)).model_copy()
    recovered = pipeline_status(
        back.model_copy(
            update={
                "history": [],
                "last_run": _status((RunOutcome.SUCCEEDED, T0 + timedelta(seconds=62))).last_run,
            }
        ),
        obs,
        now=T0 + timedelta(seconds=63),
    )
    assert ("Normal", "Reconciled") in [
        (e.type, e.reason) for e in transition_events(stale.conditions, recovered.conditions)
    ]
