"""A launch the API server refuses (PodSecurity, ResourceQuota, a webhook) is a failed attempt with the
server's message: retried per spec.retry, then the run fails and the pipeline is Degraded. It never
loops (issue 11, defect 1: the refused attempt was started again on every reconcile, with a fresh
clock, so neither the retries nor the timeout ever ended it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, DataPipelineStatus, RunOutcome
from dataops.kube.client import DATA_PIPELINE, DATA_QUALITY_SUITE
from dataops.plan.scheduling import DriverState, RunDecision, decide, refuse_launch
from dataops.reconcile.pipeline import reconcile_pipeline
from dataops.reconcile.suite import reconcile_suite
from tests.unit.fake_kube import FakeKube

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
QUOTA = (
    'pods "{name}" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0'
)


def _quota(manifest: dict[str, Any]) -> str | None:
    return QUOTA.format(name=manifest["metadata"]["name"]) if manifest["kind"] == "Pod" else None


def _pipeline(example_pipeline: dict[str, Any], **spec: Any) -> dict[str, Any]:
    example_pipeline["spec"].pop("schedule", None)
    example_pipeline["spec"].pop("qualityGates", None)  # no suite to look up
    example_pipeline["spec"].update(spec)
    example_pipeline["metadata"].update(
        namespace="sales",
        uid="uid-1",
        generation=1,
        creationTimestamp="2026-11-25T09:00:00Z",
        annotations={"dataops.dev/run-now": "1"},
    )
    return example_pipeline


def _condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == type_)


def test_refused_driver_retries_per_policy_then_degrades(example_pipeline: dict[str, Any]) -> None:
    kube = FakeKube()
    kube.refuse = _quota
    body = _pipeline(example_pipeline, retry={"maxRetries": 2, "backoffSeconds": 5, "maxBackoffSeconds": 60})
    kube.put(body)
    name = body["metadata"]["name"]
    for second in range(0, 120):
        live = kube.get(DATA_PIPELINE, "sales", name)
        assert live is not None
        reconcile_pipeline(kube, live, now=NOW + timedelta(seconds=second))  # type: ignore[arg-type]
    final = kube.get(DATA_PIPELINE, "sales", name)
    assert final is not None
    last = final["status"]["lastRun"]
    driver = f"{name}-{last['id']}-3-driver"
    assert (last["outcome"], last["attempt"]) == ("Failed", 3)
    assert last["message"] == "driver pod rejected: " + QUOTA.format(name=driver)
    degraded = _condition(final, "Degraded")
    assert degraded["status"] == "True" and "exceeded quota: no-pods" in degraded["message"]
    assert final["status"].get("activeRuns", []) == []
    # One create per attempt: the first try and two retries, then nothing more.
    pod_creates = [n for kind, n in kube.applied if kind == "Pod"]
    assert pod_creates == [f"{name}-{last['id']}-{attempt}-driver" for attempt in (1, 2, 3)]
    assert kube.of_kind("Pod") == []
    reasons = [e["reason"] for e in kube.of_kind("Event")]
    assert reasons.count("RunAttemptFailed") == 2 and reasons.count("RunFailed") == 1
    # The retries waited for the backoff (5s, then 10s) between the refused launches.
    history = final["status"]["history"]
    assert history[-1]["outcome"] == "Failed"


def test_refused_validation_pod_records_the_error_once() -> None:
    kube = FakeKube()
    kube.refuse = _quota
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {
            "name": "q",
            "namespace": "sales",
            "uid": "u-1",
            "generation": 1,
            "creationTimestamp": "2026-11-25T09:00:00Z",
            "annotations": {"dataops.dev/run-now": "1"},
        },
        "spec": {
            "dataset": {"path": "/data/orders"},
            "expectations": [{"type": "expect_column_values_to_not_be_null", "column": "id"}],
        },
    }
    kube.put(suite)
    for second in range(0, 60, 5):
        live = kube.get(DATA_QUALITY_SUITE, "sales", "q")
        assert live is not None
        reconcile_suite(kube, live, now=NOW + timedelta(seconds=second))  # type: ignore[arg-type]
    final = kube.get(DATA_QUALITY_SUITE, "sales", "q")
    assert final is not None
    result = final["status"]["lastResult"]
    pod = f"q-{result['runId']}-validator"
    assert result["error"] == "validation pod rejected: " + QUOTA.format(name=pod)
    assert final["status"].get("active") is None
    assert [n for kind, n in kube.applied if kind == "Pod"] == [pod]
    quality = _condition(final, "QualityPassed")
    assert quality["reason"] == "ValidationError" and "exceeded quota" in quality["message"]


# -- the pure decisions behind it ---------------------------------------------------------------------


def _spec(example_pipeline: dict[str, Any], **changes: Any) -> DataPipelineSpec:
    example_pipeline["spec"].pop("schedule", None)
    example_pipeline["spec"].update(changes)
    return DataPipelineSpec.model_validate(example_pipeline["spec"])


def _decide(
    spec: DataPipelineSpec,
    status: DataPipelineStatus | None,
    now: datetime,
    drivers: dict[tuple[str, int], DriverState] | None = None,
) -> RunDecision:
    return decide(
        name="p",
        uid="uid",
        spec=spec,
        status=status,
        drivers=drivers or {},
        annotations={"dataops.dev/run-now": "1"},
        created=NOW - timedelta(hours=1),
        now=now,
        can_start=True,
    )


def _after(status: DataPipelineStatus | None, d: RunDecision) -> DataPipelineStatus:
    base = status or DataPipelineStatus(conditions=[])
    return base.model_copy(
        update={
            "active_runs": d.active,
            "last_manual_trigger": d.last_manual_trigger,
            "history": base.history + d.finished,
            "last_run": d.finished[-1] if d.finished else base.last_run,
        }
    )


def test_a_launched_driver_that_never_appears_keeps_its_clock_and_times_out(
    example_pipeline: dict[str, Any],
) -> None:
    spec = _spec(example_pipeline, timeoutSeconds=60, retry={"maxRetries": 0})
    first = _decide(spec, None, NOW)
    (run,) = first.launch
    status = _after(None, first)
    # The launch broke off: no driver. It is launched again on the clock of the first launch...
    again = _decide(spec, status, NOW + timedelta(seconds=30))
    assert [(r.id, r.start_time) for r in again.launch] == [(run.id, NOW)]
    assert [e.reason for e in again.events] == ["DriverMissing"]
    # ... so the timeout still ends the attempt.
    late = _decide(spec, _after(status, again), NOW + timedelta(seconds=61))
    assert late.launch == [] and late.active == []
    (done,) = late.finished
    assert done.outcome == RunOutcome.FAILED
    assert done.message == "timed out after 60s: the driver pod never appeared"


def test_refuse_launch_retries_with_backoff_then_fails(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, retry={"maxRetries": 1, "backoffSeconds": 10, "maxBackoffSeconds": 60})
    first = _decide(spec, None, NOW)
    (run,) = first.launch
    refuse_launch(first, run, "driver pod rejected: no", name="p", spec=spec, now=NOW)
    assert first.launch == []
    (waiting,) = first.active
    assert (waiting.attempt, waiting.outcome) == (2, RunOutcome.RETRYING)
    assert waiting.not_before == NOW + timedelta(seconds=10)
    assert waiting.message == "attempt 1 failed: driver pod rejected: no"
    assert first.requeue_after(NOW) == pytest.approx(10)
    status = _after(None, first)
    assert _decide(spec, status, NOW + timedelta(seconds=5)).launch == []
    retry = _decide(spec, status, NOW + timedelta(seconds=10))
    (second,) = retry.launch
    assert second.attempt == 2
    refuse_launch(retry, second, "driver pod rejected: no", name="p", spec=spec, now=NOW)
    (done,) = retry.finished
    assert (done.outcome, done.attempt, done.message) == (RunOutcome.FAILED, 2, "driver pod rejected: no")
    assert retry.active == [] and retry.launch == []
