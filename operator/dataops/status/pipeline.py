"""DataPipeline status from what reconcile observed. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapipeline import DataPipelineStatus, PipelinePhase, PolicyReport
from dataops.plan.runplan import PlanError
from dataops.policy.evaluate import PolicyFinding
from dataops.status.conditions import DesiredCondition, false, merge_conditions, true


@dataclass(frozen=True)
class PipelineObservation:
    generation: int | None
    suspended: bool = False
    missing_suites: list[str] = field(default_factory=list)
    policy_findings: list[PolicyFinding] = field(default_factory=list)
    plan_errors: list[PlanError] = field(default_factory=list)
    apply_error: str | None = None
    plan_config_map: str | None = None
    plan_hash: str | None = None


def _policy_condition(findings: list[PolicyFinding]) -> DesiredCondition:
    if not findings:
        return true(ConditionType.POLICY_COMPLIANT, Reason.NO_POLICY, "no DataPolicy selects this pipeline")
    violations = [f"{f.policy}: {v}" for f in findings for v in f.violations]
    if not violations:
        names = ", ".join(f.policy for f in findings)
        return true(ConditionType.POLICY_COMPLIANT, Reason.COMPLIANT, f"compliant with {names}")
    reason = Reason.POLICY_VIOLATION if any(f.blocking for f in findings) else Reason.POLICY_AUDIT_VIOLATION
    return false(ConditionType.POLICY_COMPLIANT, reason, "; ".join(violations))


def _ready_condition(obs: PipelineObservation) -> DesiredCondition:
    if obs.plan_errors:
        return false(ConditionType.READY, Reason.INVALID_PLAN, "; ".join(str(e) for e in obs.plan_errors))
    if obs.missing_suites:
        names = ", ".join(sorted(obs.missing_suites))
        return false(
            ConditionType.READY, Reason.QUALITY_SUITE_NOT_FOUND, f"DataQualitySuite not found: {names}"
        )
    blocking = [f for f in obs.policy_findings if f.blocking]
    if blocking:
        names = ", ".join(f.policy for f in blocking)
        return false(ConditionType.READY, Reason.POLICY_VIOLATION, f"blocked by DataPolicy {names}")
    if obs.apply_error:
        return false(ConditionType.READY, Reason.APPLY_FAILED, obs.apply_error)
    return true(ConditionType.READY, Reason.RECONCILED, "plan and runner resources are in place")


def pipeline_status(
    previous: DataPipelineStatus | None, obs: PipelineObservation, *, now: datetime
) -> DataPipelineStatus:
    before = previous or DataPipelineStatus(conditions=[])
    ready = _ready_condition(obs)
    refs = (
        false(ConditionType.REFERENCES_RESOLVED, Reason.QUALITY_SUITE_NOT_FOUND, ready.message)
        if obs.missing_suites
        else true(ConditionType.REFERENCES_RESOLVED, Reason.RESOLVED, "all referenced objects exist")
    )
    progressing = false(
        ConditionType.PROGRESSING, Reason.SUSPENDED if obs.suspended else Reason.IDLE, "no run in progress"
    )
    degraded = false(ConditionType.DEGRADED, Reason.AS_EXPECTED)
    desired = [ready, refs, _policy_condition(obs.policy_findings), progressing, degraded]
    conditions = merge_conditions(before.conditions, desired, generation=obs.generation, now=now)
    if ready.status.value != "True":
        phase = PipelinePhase.BLOCKED
    elif obs.suspended:
        phase = PipelinePhase.SUSPENDED
    else:
        phase = PipelinePhase.READY
    findings = obs.policy_findings
    return before.model_copy(
        update={
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
