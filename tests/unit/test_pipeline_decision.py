"""The whole decision of a DataPipeline reconcile, property-tested: what observe read (a
PipelineWorld) and what the child and source writes returned decide the runs and the status, with
no I/O. Invariants over random worlds: a blocked pipeline launches nothing and says why; an
unblocked one is Configured; the decision is a function of its inputs; run ids are never reused;
the status is of the observed generation."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    RunOutcome,
    RunRecord,
    RunTrigger,
)
from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.plan.pipeline_decision import PipelineWorld, configure, decide_pipeline
from dataops.policy.deputy import Allowlists
from dataops.status.pipeline import SourcesView
from tests.conftest import EXAMPLES

PIPELINE = yaml.safe_load((EXAMPLES / "03-orders-pipeline.yaml").read_text())
SUITE = next(d for d in yaml.safe_load_all((EXAMPLES / "01-quality-suite.yaml").read_text()) if d)
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DENY_ALL_SINKS = DataPolicySpec.model_validate(
    {"pipelineSelector": {}, "enforcement": "Enforce", "allowedSinks": ["/nowhere/**"]}
)
AUDIT_SINKS = DataPolicySpec.model_validate(
    {"pipelineSelector": {}, "enforcement": "Audit", "allowedSinks": ["/nowhere/**"]}
)


def _record(i: int, outcome: RunOutcome) -> RunRecord:
    done = outcome in (RunOutcome.SUCCEEDED, RunOutcome.FAILED)
    return RunRecord(
        id=f"m-{i:012x}",
        trigger=RunTrigger.MANUAL,
        outcome=outcome,
        start_time=T0 - timedelta(hours=i + 1),
        completion_time=T0 - timedelta(hours=i) if done else None,
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[PipelineWorld, str | None, bool]:
    doc = copy.deepcopy(PIPELINE["spec"])
    doc["suspend"] = draw(st.booleans())
    if draw(st.booleans()):
        doc.pop("schedule", None)
    if draw(st.booleans()):
        doc["spark"] = {**doc.get("spark", {}), "image": "evil.example/spark:latest"}  # not allowed
    spec = DataPipelineSpec.model_validate(doc)
    history = [
        _record(i, draw(st.sampled_from([RunOutcome.SUCCEEDED, RunOutcome.FAILED])))
        for i in range(draw(st.integers(0, 3)))
    ]
    previous = (
        DataPipelineStatus(
            conditions=[],
            history=history,
            last_run=history[-1] if history else None,
            observed_generation=1,
            plan_hash=draw(st.sampled_from([None, "old"])),
        )
        if draw(st.booleans())
        else None
    )
    suite_present = draw(st.booleans())
    policies = draw(
        st.lists(
            st.sampled_from([("deny", DENY_ALL_SINKS), ("audit", AUDIT_SINKS)]),
            max_size=2,
            unique_by=lambda p: p[0],
        )
    )
    annotations = {"dataops.dev/run-now": draw(st.sampled_from(["t1", "t2"]))} if draw(st.booleans()) else {}
    world = PipelineWorld(
        namespace="sales",
        name="orders-daily",
        uid="0d5e2c1a-0000-4000-8000-000000000001",
        generation=draw(st.integers(1, 5)),
        annotations=annotations,
        created=T0 - timedelta(days=3),
        spec=spec,
        previous=previous,
        suites={"orders-quality": SUITE["spec"] if suite_present else None},
        policies=sorted(policies),
    )
    apply_error = draw(st.sampled_from([None, "applying children failed: 403 forbidden"]))
    sources_blocking = draw(st.booleans())
    return world, apply_error, sources_blocking


def _decide(world: PipelineWorld, apply_error: str | None, sources_blocking: bool, minutes: int) -> Any:
    conf = configure(world, Allowlists(), verify_children=True)
    sources = SourcesView([], [], None, ["topic orders: not found"] if sources_blocking else [])
    decision = decide_pipeline(
        world,
        conf,
        apply_error=apply_error,
        sources=sources,
        sources_blocking=sources_blocking,
        now=T0 + timedelta(minutes=minutes),
    )
    return conf, decision


def _condition(status: DataPipelineStatus, kind: str) -> tuple[str, str]:
    (cond,) = [c for c in status.conditions if c.type.value == kind]
    return cond.status.value, cond.reason.value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.integers(0, 60 * 48))
def test_the_decision_of_a_reconcile_keeps_its_invariants(
    case: tuple[PipelineWorld, str | None, bool], minutes: int
) -> None:
    world, apply_error, sources_blocking = case
    conf, decision = _decide(world, apply_error, sources_blocking, minutes)
    status, runs = decision.status, decision.runs
    blocked = conf.blocked or apply_error is not None
    if conf.blocked or apply_error or sources_blocking:
        assert runs.launch == [], "a blocked pipeline launched a run"
    configured = _condition(status, "Configured")
    if blocked:
        assert configured[0] == "False" and status.phase.value == "Blocked"
        assert _condition(status, "Ready") == configured  # Ready says why, with the same reason
    else:
        assert configured == ("True", "Reconciled") and status.phase.value != "Blocked"
    if world.suites["orders-quality"] is None:
        assert "orders-quality" in conf.missing_suites and configured[1] in (
            "QualitySuiteNotFound",
            "InvalidPlan",
            "ForbiddenByOperator",
        )
    if world.spec.spark.image is not None:
        assert conf.forbidden and configured == ("False", "ForbiddenByOperator")
    assert status.observed_generation == world.generation
    old_ids = {r.id for r in (world.previous.history if world.previous else [])}
    assert not {r.id for r in runs.launch} & old_ids, "a run id was reused"
    # a function of its inputs: deciding again from copies gives the same answer
    again_conf, again = _decide(copy.deepcopy(world), apply_error, sources_blocking, minutes)
    assert again.status == status and again.runs.launch == runs.launch
    assert again_conf.plan.digest() == conf.plan.digest()


def test_an_unblocked_pipeline_with_a_new_run_now_token_launches_exactly_one_run() -> None:
    spec = DataPipelineSpec.model_validate({**PIPELINE["spec"], "suspend": False})
    world = PipelineWorld(
        namespace="sales",
        name="orders-daily",
        uid="u-1",
        generation=1,
        annotations={"dataops.dev/run-now": "go"},
        created=T0,
        spec=spec,
        previous=None,
        suites={"orders-quality": SUITE["spec"]},
        policies=[],
    )
    conf, decision = _decide(world, None, False, 1)
    assert not conf.blocked and len(decision.runs.launch) == 1
    assert decision.status.active_runs == decision.runs.launch  # recorded before the pods exist
    _, blocked = _decide(world, "applying children failed: boom", False, 1)
    assert blocked.runs.launch == [] and _condition(blocked.status, "Ready") == ("False", "ApplyFailed")
