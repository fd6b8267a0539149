"""Property-based tests of the pure scheduler (issue 11): random sequences of triggers, suspends,
spec edits, pod outcomes, operator crashes and clock jumps against a simulated cluster, with the
invariants checked after every reconcile.

The simulation follows the reconcile's order of effects: decide, write status, then create the
launched pods and delete the stopped ones. A crash loses everything after a chosen point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    PipelineMode,
    RunOutcome,
    RunTrigger,
)
from dataops.plan.scheduling import DriverState, RunDecision, decide
from dataops.status.pipeline import _run_fields

START = datetime(2026, 11, 26, 9, 58, tzinfo=UTC)
TIMEOUT = 600


def _batch_spec(**changes: Any) -> DataPipelineSpec:
    return DataPipelineSpec.model_validate(
        {
            "sources": [{"name": "s", "file": {"path": "/in", "format": "parquet"}}],
            "sinks": [{"name": "k", "from": "s", "format": "parquet", "path": "/out"}],
            "schedule": {"cron": "*/5 * * * *", "timeZone": "UTC", "concurrencyPolicy": "Forbid"},
            "retry": {"maxRetries": 2, "backoffSeconds": 30, "maxBackoffSeconds": 120},
            "timeoutSeconds": TIMEOUT,
            **changes,
        }
    )


def _streaming_spec(**changes: Any) -> DataPipelineSpec:
    return DataPipelineSpec.model_validate(
        {
            "mode": "Streaming",
            "sources": [{"name": "s", "kafka": {"topic": "t", "schema": [{"name": "id", "type": "long"}]}}],
            "sinks": [{"name": "k", "from": "s", "format": "delta", "path": "/out"}],
            "retry": {"maxRetries": 2, "backoffSeconds": 30, "maxBackoffSeconds": 120},
            **changes,
        }
    )


@dataclass
class Pod:
    state: DriverState
    vanish_after: int = 0  # reconciles a deleted (terminating) pod stays visible


@dataclass
class Cluster:
    spec: DataPipelineSpec
    now: datetime = START
    status: DataPipelineStatus | None = None
    pods: dict[tuple[str, int], Pod] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    plan_key: str = "plan-0"
    finished_pods: set[str] = field(default_factory=set)  # pods that ran to Succeeded or Failed
    runs_started: dict[str, RunTrigger] = field(default_factory=dict)
    max_alive: int = 0

    def drivers(self) -> dict[tuple[str, int], DriverState]:
        return {k: p.state for k, p in self.pods.items()}

    def alive(self) -> int:
        return sum(1 for p in self.pods.values() if p.state.alive)

    def reconcile(self, crash: str | None = None) -> RunDecision:
        previous = self.status
        decision = decide(
            name="p",
            uid="uid",
            spec=self.spec,
            status=previous,
            drivers=self.drivers(),
            annotations=dict(self.annotations),
            created=START,
            now=self.now,
            can_start=True,
            continuous_key=self.plan_key,
        )
        check_decision(self, previous, decision)
        if crash == "before-status":
            return decision
        before = previous or DataPipelineStatus(conditions=[])
        self.status = before.model_copy(update=_run_fields(before, decision))
        if crash == "before-launch":
            return decision
        for rec in decision.launch:
            key = (rec.id, rec.attempt)
            name = rec.driver_pod or ""
            assert name not in self.finished_pods, f"launch re-applies onto finished pod {name}"
            self.runs_started.setdefault(rec.id, rec.trigger)
            if key not in self.pods:
                self.pods[key] = Pod(DriverState(name, rec.id, rec.attempt, "Pending"))
        for name in [*decision.delete, *(s.name for s in decision.retire)]:
            for pod in self.pods.values():
                if pod.state.name == name and not pod.state.terminating:
                    pod.state = DriverState(
                        pod.state.name,
                        pod.state.run_id,
                        pod.state.attempt,
                        pod.state.phase if pod.state.phase in ("Succeeded", "Failed") else "Failed",
                        start_time=pod.state.start_time,
                        finish_time=pod.state.finish_time,
                        message=pod.state.message or "the driver pod was deleted",
                        terminating=True,
                    )
                    pod.vanish_after = 2
        self.max_alive = max(self.max_alive, self.alive())
        return decision

    def tick_pods(self) -> None:
        for key, pod in list(self.pods.items()):
            if pod.state.terminating:
                pod.vanish_after -= 1
                if pod.vanish_after <= 0:
                    del self.pods[key]

    def finish(self, index: int, outcome: str) -> None:
        candidates = sorted(k for k, p in self.pods.items() if p.state.alive and not p.state.terminating)
        if not candidates:
            return
        key = candidates[index % len(candidates)]
        pod = self.pods[key]
        if outcome == "vanish":  # evicted or deleted by someone: may be launched again (same attempt)
            del self.pods[key]
            return
        if outcome == "running":
            pod.state = DriverState(pod.state.name, key[0], key[1], "Running", start_time=self.now)
            return
        message = "" if outcome == "Succeeded" else "boom"
        pod.state = DriverState(
            pod.state.name,
            key[0],
            key[1],
            outcome,
            start_time=pod.state.start_time or self.now,
            finish_time=self.now,
            message=message,
        )
        self.finished_pods.add(pod.state.name)


def check_decision(cluster: Cluster, previous: DataPipelineStatus | None, d: RunDecision) -> None:
    spec = cluster.spec
    before = previous or DataPipelineStatus(conditions=[])
    # At most one active run (Forbid, and a streaming job).
    assert len(d.active) <= 1, d.active
    # No run id reused: a new run never takes an id already used.
    history_ids = {r.id for r in before.history}
    active_ids = {r.id for r in before.active_runs}
    for rec in d.launch:
        if rec.id not in active_ids:
            assert rec.id not in history_ids and rec.id not in cluster.runs_started, rec.id
    # Every finished record is final once: not active at the same time.
    assert not ({r.id for r in d.finished} & {r.id for r in d.active})
    # Every run-now trigger is accounted for: it starts a run or is reported skipped.
    if spec.mode == PipelineMode.BATCH and d.last_manual_trigger != before.last_manual_trigger:
        started = [r for r in d.launch if r.trigger == RunTrigger.MANUAL and r.id not in active_ids]
        skipped = [
            r for r in d.finished if r.trigger == RunTrigger.MANUAL and r.outcome == RunOutcome.SKIPPED
        ]
        assert len(started) + len(skipped) == 1, (started, skipped)
    # Timeouts always fire: no attempt stays active past its timeout.
    if spec.timeout_seconds is not None:
        for rec in d.active:
            if rec.start_time is not None and rec.outcome in (RunOutcome.PENDING, RunOutcome.RUNNING):
                assert cluster.now < rec.start_time + timedelta(seconds=spec.timeout_seconds), rec
    # Runs that were active are either still active or finished: none is lost.
    for rec in before.active_runs:
        assert rec.id in {r.id for r in d.active} | {r.id for r in d.finished}, rec.id


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("clock"), st.integers(min_value=0, max_value=400)),
        st.tuples(st.just("jump"), st.integers(min_value=1, max_value=48)),  # hours
        st.tuples(st.just("run-now"), st.sampled_from(["a", "b", "c"])),
        st.tuples(
            st.just("pod"), st.integers(0, 5), st.sampled_from(["running", "Succeeded", "Failed", "vanish"])
        ),
        st.tuples(st.just("suspend"), st.booleans()),
        st.tuples(st.just("edit"), st.sampled_from(["plan-0", "plan-1", "plan-2"])),
        st.tuples(st.just("crash"), st.sampled_from(["before-status", "before-launch"])),
        st.tuples(
            st.just("reconcile"),
        ),
    ),
    min_size=1,
    max_size=60,
)


def _play(cluster: Cluster, steps: list[tuple[Any, ...]]) -> None:
    for step in steps:
        kind = step[0]
        if kind == "clock":
            cluster.now += timedelta(seconds=step[1])
        elif kind == "jump":
            cluster.now += timedelta(hours=step[1])
        elif kind == "run-now":
            cluster.annotations["dataops.dev/run-now"] = step[1]
        elif kind == "pod":
            cluster.finish(step[1], step[2])
        elif kind == "suspend":
            cluster.spec = cluster.spec.model_copy(update={"suspend": step[1]})
        elif kind == "edit":
            cluster.plan_key = step[1]
        if kind == "crash":
            cluster.reconcile(crash=step[1])
        else:
            cluster.reconcile()
        cluster.tick_pods()
    # With time and no more trouble, every active run ends (timeouts fire, retries run out).
    for _ in range(40):
        cluster.now += timedelta(seconds=TIMEOUT)
        cluster.reconcile()
        cluster.tick_pods()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps)
def test_batch_scheduler_invariants_hold_under_any_sequence(steps: list[tuple[Any, ...]]) -> None:
    cluster = Cluster(_batch_spec())
    _play(cluster, steps)
    status = cluster.status
    assert status is not None
    for rec in status.active_runs:  # only runs that have not had time yet (Pending pods never time out)
        assert rec.start_time is None or cluster.now < rec.start_time + timedelta(seconds=TIMEOUT)
    ids = [r.id for r in status.history]
    assert len(ids) == len(set(ids)), "a run has more than one final record"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps)
def test_streaming_never_runs_two_drivers_and_comes_back(steps: list[tuple[Any, ...]]) -> None:
    cluster = Cluster(_streaming_spec())
    _play(cluster, steps)
    assert cluster.max_alive <= 1, "two streaming drivers alive at once (shared checkpoint)"
    # Unsuspended, after a fresh plan edit, a job of the current plan runs again.
    cluster.spec = cluster.spec.model_copy(update={"suspend": False})
    cluster.plan_key = "plan-final"
    for _ in range(6):
        cluster.reconcile()
        cluster.tick_pods()
    status = cluster.status
    assert status is not None and [r.plan_key for r in status.active_runs] == [
        "plan-final/" + (status.last_manual_trigger or "")
    ]
