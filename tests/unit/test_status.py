"""Pure status computation: conditions, phases, events, merge patches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dataops.api.v1alpha1.common import ConditionStatus, ConditionType, Reason
from dataops.api.v1alpha1.datapolicy import Enforcement
from dataops.plan.runplan import PlanError
from dataops.policy.evaluate import PolicyFinding
from dataops.status.conditions import false, merge_conditions, true
from dataops.status.diff import merge_patch
from dataops.status.events import transition_events
from dataops.status.pipeline import PipelineObservation, pipeline_status
from dataops.status.policy import policy_status

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_transition_time_changes_only_with_status() -> None:
    first = merge_conditions([], [true(ConditionType.READY, Reason.RECONCILED)], generation=1, now=T0)
    same = merge_conditions(
        first, [true(ConditionType.READY, Reason.RECONCILED, "new message")], generation=2, now=T1
    )
    assert same[0].last_transition_time == T0 and same[0].observed_generation == 2
    flipped = merge_conditions(same, [false(ConditionType.READY, Reason.INVALID_PLAN)], generation=2, now=T1)
    assert flipped[0].last_transition_time == T1


def test_events_only_for_transitions() -> None:
    first = merge_conditions(
        [],
        [true(ConditionType.READY, Reason.RECONCILED), false(ConditionType.DEGRADED, Reason.AS_EXPECTED)],
        generation=1,
        now=T0,
    )
    assert [(e.type, e.reason) for e in transition_events([], first)] == [("Normal", "Reconciled")]
    assert transition_events(first, first) == []
    broken = merge_conditions(
        first,
        [
            false(ConditionType.READY, Reason.QUALITY_SUITE_NOT_FOUND, "x"),
            false(ConditionType.DEGRADED, Reason.AS_EXPECTED),
        ],
        generation=1,
        now=T1,
    )
    events = transition_events(first, broken)
    assert [(e.type, e.reason) for e in events] == [("Warning", "QualitySuiteNotFound")]
    assert events[0].message == "Ready=False: x"


def _ready(obs: PipelineObservation) -> tuple[str, str, str]:
    status = pipeline_status(None, obs, now=T0)
    ready = next(c for c in status.conditions if c.type == ConditionType.READY)
    return ready.status.value, ready.reason.value, status.phase.value


def test_pipeline_ready_reason_priority() -> None:
    blocking = PolicyFinding("p1", Enforcement.ENFORCE, ["sink not allowed"])
    audit = PolicyFinding("p2", Enforcement.AUDIT, ["sink not allowed"])
    assert _ready(PipelineObservation(generation=1)) == ("True", "Reconciled", "Ready")
    assert _ready(PipelineObservation(generation=1, suspended=True)) == ("True", "Reconciled", "Suspended")
    assert _ready(PipelineObservation(generation=1, policy_findings=[audit])) == (
        "True",
        "Reconciled",
        "Ready",
    )
    assert _ready(PipelineObservation(generation=1, policy_findings=[blocking])) == (
        "False",
        "PolicyViolation",
        "Blocked",
    )
    assert _ready(PipelineObservation(generation=1, missing_suites=["s"], policy_findings=[blocking])) == (
        "False",
        "QualitySuiteNotFound",
        "Blocked",
    )
    assert _ready(
        PipelineObservation(generation=1, plan_errors=[PlanError("p", "m")], missing_suites=["s"])
    ) == ("False", "InvalidPlan", "Blocked")
    assert _ready(PipelineObservation(generation=1, apply_error="403")) == ("False", "ApplyFailed", "Blocked")


def test_policy_condition_lists_violations() -> None:
    finding = PolicyFinding("gov", Enforcement.AUDIT, ["a", "b"])
    status = pipeline_status(None, PipelineObservation(generation=3, policy_findings=[finding]), now=T0)
    compliant = next(c for c in status.conditions if c.type == ConditionType.POLICY_COMPLIANT)
    assert compliant.status == ConditionStatus.FALSE
    assert compliant.reason == Reason.POLICY_AUDIT_VIOLATION
    assert compliant.message == "gov: a; gov: b"
    assert status.policy is not None and status.policy.violations == ["gov: a", "gov: b"]
    assert status.observed_generation == 3


def test_recomputing_unchanged_status_is_identical() -> None:
    obs = PipelineObservation(generation=1, plan_hash="abc", plan_config_map="x-plan")
    first = pipeline_status(None, obs, now=T0)
    again = pipeline_status(first, obs, now=T1)
    assert again == first


def test_policy_status_counts() -> None:
    status = policy_status(None, {"a": [], "b": ["bad sink"]}, generation=1, now=T0)
    assert (status.selected_pipelines, status.violating_pipelines, status.phase.value) == (2, 1, "Violated")
    assert status.violations[0].pipeline == "b"


def test_merge_patch() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1], "gone": True}
    new = {"a": 1, "b": {"c": 2, "d": 4}, "e": [1, 2]}
    assert merge_patch(old, new) == {"gone": None, "b": {"d": 4}, "e": [1, 2]}
    assert merge_patch(new, new) == {}
