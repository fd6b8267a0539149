"""DataPipeline status from what reconcile observed. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapipeline import (
    ConnectorStatus,
    DataPipelineSpec,
    DataPipelineStatus,
    PipelineMode,
    PipelinePhase,
    PolicyReport,
    RunOutcome,
    RunRecord,
    StreamingStatus,
    TopicStatus,
)
from dataops.plan.runplan import PlanError
from dataops.plan.scheduling import HISTORY_LIMIT, DriverState, RunDecision
from dataops.policy.deputy import Forbidden
from dataops.policy.evaluate import PolicyFinding
from dataops.status.conditions import DesiredCondition, false, merge_conditions, true
from dataops.status.freshness import freshness_condition, sink_freshness


@dataclass(frozen=True)
class PipelineObservation:
    generation: int | None
    suspended: bool = False
    missing_suites: list[str] = field(default_factory=list)
    policy_findings: list[PolicyFinding] = field(default_factory=list)
    plan_errors: list[PlanError] = field(default_factory=list)
    forbidden: list[Forbidden] = field(default_factory=list)
    """Fields the operator refuses to act on (its allowlists, the sparkConf denylist)."""
    apply_error: str | None = None
    plan_config_map: str | None = None
    plan_hash: str | None = None
    runs: RunDecision | None = None
    sources: SourcesView | None = None
    streaming: StreamingStatus | None = None
    spec: DataPipelineSpec | None = None  # for the sinks' freshness SLOs (maxAgeSeconds)
    created: datetime | None = None


@dataclass(frozen=True)
class SourcesView:
    """What the reconcile found about Kafka topics and Connect connectors (streaming sources only)."""

    topics: list[TopicStatus]
    connectors: list[ConnectorStatus]
    restart_request: str | None
    errors: list[str]


def _sources_condition(view: SourcesView) -> DesiredCondition:
    if view.errors:
        return false(ConditionType.SOURCES_READY, Reason.SOURCE_UNAVAILABLE, "; ".join(view.errors)[:4096])
    parts = []
    if view.topics:
        parts.append(f"{len(view.topics)} topic(s)")
    if view.connectors:
        states = ", ".join(f"{c.source}={c.state}" for c in view.connectors)
        parts.append(f"connectors {states}")
    return true(ConditionType.SOURCES_READY, Reason.SOURCES_AVAILABLE, "; ".join(parts))


def _unclassified_warning(last_run: RunRecord | None) -> str:
    if last_run is None or not last_run.unclassified_pii:
        return ""
    columns = ", ".join(
        f"{u.sink}.{u.column} looks like {u.classification} ({u.ratio:.0%})"
        for u in last_run.unclassified_pii
    )
    return f"warning: run {last_run.id} wrote personal data no DataPolicy classifies: {columns}"


def _policy_condition(findings: list[PolicyFinding], last_run: RunRecord | None = None) -> DesiredCondition:
    """Static violations make it False. Unclassified personal data the last run wrote is a
    warning: the condition stays True (nothing the policies say was broken) with reason
    UnclassifiedPersonalData, so it is visible without blocking the pipeline."""
    warning = _unclassified_warning(last_run)
    violations = [f"{f.policy}: {v}" for f in findings for v in f.violations]
    if violations:
        reason = (
            Reason.POLICY_VIOLATION if any(f.blocking for f in findings) else Reason.POLICY_AUDIT_VIOLATION
        )
        return false(
            ConditionType.POLICY_COMPLIANT, reason, "; ".join(violations + ([warning] if warning else []))
        )
    if warning:
        return true(ConditionType.POLICY_COMPLIANT, Reason.UNCLASSIFIED_PERSONAL_DATA, warning)
    if not findings:
        return true(ConditionType.POLICY_COMPLIANT, Reason.NO_POLICY, "no DataPolicy selects this pipeline")
    names = ", ".join(f.policy for f in findings)
    return true(ConditionType.POLICY_COMPLIANT, Reason.COMPLIANT, f"compliant with {names}")


def _configured_condition(obs: PipelineObservation) -> DesiredCondition:
    """Configured: the spec is valid, allowed, its references exist and its children are applied."""
    kind = ConditionType.CONFIGURED
    if obs.forbidden:
        message = "; ".join(str(f) for f in obs.forbidden)[:4096]
        return false(kind, Reason.FORBIDDEN_BY_OPERATOR, message)
    if obs.plan_errors:
        return false(kind, Reason.INVALID_PLAN, "; ".join(str(e) for e in obs.plan_errors))
    if obs.missing_suites:
        names = ", ".join(sorted(obs.missing_suites))
        return false(kind, Reason.QUALITY_SUITE_NOT_FOUND, f"DataQualitySuite not found: {names}")
    blocking = [f for f in obs.policy_findings if f.blocking]
    if blocking:
        names = ", ".join(f.policy for f in blocking)
        return false(kind, Reason.POLICY_VIOLATION, f"blocked by DataPolicy {names}")
    if obs.apply_error:
        return false(kind, Reason.APPLY_FAILED, obs.apply_error)
    return true(kind, Reason.RECONCILED, "plan and runner resources are in place")


def ready_condition(
    configured: DesiredCondition, last_run: RunRecord | None, fresh: DesiredCondition | None
) -> DesiredCondition:
    """Ready is data-aware: configured, the last finished run succeeded (its blocking gates
    passed: a failed gate fails the run) and every sink with a freshness SLO is fresh. A
    pipeline that has not run yet, or whose sinks were never due, is Ready once configured."""
    kind = ConditionType.READY
    if configured.status.value != "True":
        return false(kind, configured.reason, configured.message)
    if last_run is not None and last_run.outcome == RunOutcome.FAILED:
        return false(kind, Reason.LAST_RUN_FAILED, f"run {last_run.id} failed: {last_run.message}"[:4096])
    if fresh is not None and fresh.status.value == "False":
        return false(kind, Reason.DATA_STALE, fresh.message)
    parts = [configured.message]
    if last_run is not None:
        parts.append(f"last run {last_run.id} {last_run.outcome.value.lower()}")
    if fresh is not None and fresh.status.value == "True":
        parts.append("data fresh")
    return true(kind, Reason.RECONCILED, "; ".join(parts))


def invalid_spec_status(
    previous: DataPipelineStatus | None, generation: int | None, message: str, *, now: datetime
) -> DataPipelineStatus:
    """A spec the models refuse (an older CRD let it in, or validation is off): Blocked, the rest
    of the status (runs, history) kept as it was."""
    before = previous or DataPipelineStatus(conditions=[])
    return before.model_copy(
        update={
            "observed_generation": generation,
            "phase": PipelinePhase.BLOCKED,
            "conditions": merge_conditions(
                before.conditions,
                [
                    false(ConditionType.READY, Reason.INVALID_SPEC, message),
                    false(ConditionType.CONFIGURED, Reason.INVALID_SPEC, message),
                ],
                generation=generation,
                now=now,
            ),
        }
    )


def pipeline_status(
    previous: DataPipelineStatus | None, obs: PipelineObservation, *, now: datetime
) -> DataPipelineStatus:
    before = previous or DataPipelineStatus(conditions=[])
    configured = _configured_condition(obs)
    refs = (
        false(ConditionType.REFERENCES_RESOLVED, Reason.QUALITY_SUITE_NOT_FOUND, configured.message)
        if obs.missing_suites
        else true(ConditionType.REFERENCES_RESOLVED, Reason.RESOLVED, "all referenced objects exist")
    )
    runs = _run_fields(before, obs.runs)
    active: list[RunRecord] = runs["active_runs"]
    last_run: RunRecord | None = runs["last_run"]
    if active:
        newest = active[-1]
        progressing = true(
            ConditionType.PROGRESSING,
            Reason.RUN_IN_PROGRESS,
            f"run {newest.id} attempt {newest.attempt} is {newest.outcome.value.lower()}",
        )
    else:
        idle = Reason.SUSPENDED if obs.suspended else Reason.IDLE
        progressing = false(ConditionType.PROGRESSING, idle, "no run in progress")
    if last_run is not None and last_run.outcome == RunOutcome.FAILED:
        degraded = true(
            ConditionType.DEGRADED,
            Reason.RETRIES_EXHAUSTED,
            f"run {last_run.id} failed after {last_run.attempt} attempt(s): {last_run.message}",
        )
    elif last_run is not None and last_run.outcome == RunOutcome.SUCCEEDED:
        degraded = false(ConditionType.DEGRADED, Reason.LAST_RUN_SUCCEEDED, f"run {last_run.id} succeeded")
    else:
        degraded = false(ConditionType.DEGRADED, Reason.AS_EXPECTED)
    fresh: DesiredCondition | None = None
    if obs.spec is not None:
        finished = [*runs["history"], *([last_run] if last_run is not None else [])]
        created = obs.created or now
        fresh = freshness_condition(
            sink_freshness(obs.spec, finished, obs.streaming, created=created, now=now)
        )
    desired = [
        ready_condition(configured, last_run, fresh),
        configured,
        refs,
        _policy_condition(obs.policy_findings, last_run),
        progressing,
        degraded,
    ]
    if fresh is not None:
        desired.append(fresh)
    sources: dict[str, Any] = {}
    if obs.sources is not None:
        desired.append(_sources_condition(obs.sources))
        sources = {
            "topics": obs.sources.topics,
            "connectors": obs.sources.connectors,
            "last_connector_restart_request": obs.sources.restart_request,
        }
    conditions = merge_conditions(before.conditions, desired, generation=obs.generation, now=now)
    if configured.status.value != "True":
        phase = PipelinePhase.BLOCKED
    elif active:
        phase = PipelinePhase.RUNNING
    elif degraded.status.value == "True":
        phase = PipelinePhase.DEGRADED
    elif obs.suspended:
        phase = PipelinePhase.SUSPENDED
    else:
        phase = PipelinePhase.READY
    findings = obs.policy_findings
    return before.model_copy(
        update={
            **runs,
            **sources,
            "streaming": obs.streaming,
            "observed_generation": obs.generation,
            "phase": phase,
            "conditions": conditions,
            "plan_config_map": obs.plan_config_map,
            "plan_hash": obs.plan_hash,
            "policy": PolicyReport(
                policies=[f.policy for f in findings],
                violations=[f"{f.policy}: {v}" for f in findings for v in f.violations][:64],
            )
            if findings
            else None,
        }
    )


def _run_fields(before: DataPipelineStatus, runs: RunDecision | None) -> dict[str, Any]:
    if runs is None:
        return {
            "active_runs": before.active_runs,
            "current_run": before.current_run,
            "last_run": before.last_run,
            "history": before.history,
            "last_schedule_time": before.last_schedule_time,
            "last_manual_trigger": before.last_manual_trigger,
            "run_sequence": before.run_sequence,
        }
    history = (before.history + runs.finished)[-HISTORY_LIMIT:]
    return {
        "active_runs": runs.active[-HISTORY_LIMIT:],
        "current_run": runs.active[-1] if runs.active else None,
        "last_run": next(
            (r for r in reversed(runs.finished) if r.outcome != RunOutcome.SKIPPED), before.last_run
        ),
        "history": history,
        "last_schedule_time": runs.last_schedule_time,
        "last_manual_trigger": runs.last_manual_trigger,
        "run_sequence": runs.run_sequence,
    }


def streaming_status(
    spec: DataPipelineSpec,
    runs: RunDecision,
    drivers: dict[tuple[str, int], DriverState],
    previous: DataPipelineStatus | None,
) -> StreamingStatus | None:
    """The streaming job's progress as its driver last reported it (Streaming pipelines only)."""
    if spec.mode != PipelineMode.STREAMING:
        return None
    before = previous.streaming if previous else None
    active = runs.active[-1] if runs.active else None
    if active is None:
        failed = runs.finished and runs.finished[-1].outcome == RunOutcome.FAILED
        state = "Suspended" if spec.suspend else ("Failed" if failed else "Stopped")
        return (before or StreamingStatus()).model_copy(update={"state": state})
    driver = drivers.get((active.id, active.attempt))
    if driver is None or not driver.progress:
        state = "Starting" if active.outcome in (RunOutcome.PENDING, RunOutcome.RETRYING) else "Running"
        return (before or StreamingStatus()).model_copy(update={"state": state})
    try:
        reported = StreamingStatus.model_validate(driver.progress)
    except ValidationError:
        return (before or StreamingStatus()).model_copy(update={"state": "Running"})
    return reported.model_copy(update={"state": reported.state if reported.state != "Unknown" else "Running"})
