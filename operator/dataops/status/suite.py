"""DataQualitySuite status. Pure."""

from __future__ import annotations

from datetime import datetime

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.dataqualitysuite import (
    DataQualitySuiteSpec,
    DataQualitySuiteStatus,
    SuitePhase,
    ValidationResult,
)
from dataops.plan.validation import ValidationDecision
from dataops.quality.summarize import for_history
from dataops.status.conditions import DesiredCondition, false, merge_conditions, true, unknown

HISTORY_LIMIT = 20


def _failed_names(result: ValidationResult) -> str:
    names = [f"{f.type}({f.column})" if f.column else f.type for f in result.failed_expectations]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f": {shown}" if shown else ""


def quality_condition(result: ValidationResult | None) -> DesiredCondition:
    if result is None:
        return unknown(ConditionType.QUALITY_PASSED, Reason.NOT_YET_VALIDATED, "the suite has not run yet")
    if result.error:
        return unknown(
            ConditionType.QUALITY_PASSED, Reason.VALIDATION_ERROR, f"run {result.run_id}: {result.error}"
        )
    if result.success:
        warned = f", {result.failed} warning(s)" if result.failed else ""
        return true(
            ConditionType.QUALITY_PASSED,
            Reason.VALIDATION_PASSED,
            f"run {result.run_id}: {result.evaluated - result.failed} of {result.evaluated} "
            f"checks passed{warned}",
        )
    return false(
        ConditionType.QUALITY_PASSED,
        Reason.VALIDATION_FAILED,
        f"run {result.run_id}: {result.failed} of {result.evaluated} checks failed{_failed_names(result)}",
    )


def _phase(result: ValidationResult | None) -> SuitePhase:
    if result is None or result.error:
        return SuitePhase.READY
    return SuitePhase.PASSED if result.success else SuitePhase.FAILED


def suite_status(
    previous: DataQualitySuiteStatus | None,
    spec: DataQualitySuiteSpec,
    *,
    generation: int | None,
    now: datetime,
    runs: ValidationDecision | None = None,
) -> DataQualitySuiteStatus:
    before = previous or DataQualitySuiteStatus(conditions=[])
    update: dict[str, object] = {}
    result = before.last_result
    history = before.history
    if runs is not None:
        update = {
            "active": runs.active,
            "last_schedule_time": runs.last_schedule_time,
            "last_run_now": runs.last_run_now,
        }
        if runs.recorded is not None:
            result = runs.recorded
            history = [for_history(result), *[h for h in history if h.run_id != result.run_id]][
                :HISTORY_LIMIT
            ]
    desired = [
        true(ConditionType.READY, Reason.RECONCILED, f"{len(spec.expectations)} expectations accepted"),
        quality_condition(result),
    ]
    return before.model_copy(
        update={
            **update,
            "observed_generation": generation,
            "phase": _phase(result),
            "conditions": merge_conditions(before.conditions, desired, generation=generation, now=now),
            "expectation_count": len(spec.expectations),
            "last_result": result,
            "history": history,
        }
    )
