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
