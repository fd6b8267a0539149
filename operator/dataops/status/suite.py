"""DataQualitySuite status. Pure."""

from __future__ import annotations

from datetime import datetime

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec, DataQualitySuiteStatus, SuitePhase
from dataops.status.conditions import false, merge_conditions, true, unknown


def suite_status(
    previous: DataQualitySuiteStatus | None,
    spec: DataQualitySuiteSpec,
    *,
    generation: int | None,
    now: datetime,
) -> DataQualitySuiteStatus:
    before = previous or DataQualitySuiteStatus(conditions=[])
    result = before.last_result
    if result is None:
        quality = unknown(ConditionType.QUALITY_PASSED, Reason.NOT_YET_VALIDATED, "the suite has not run yet")
        phase = SuitePhase.READY
    elif result.success:
        quality = true(
            ConditionType.QUALITY_PASSED, Reason.RECONCILED, f"{result.evaluated} expectations passed"
        )
        phase = SuitePhase.PASSED
    else:
        quality = false(
            ConditionType.QUALITY_PASSED, Reason.RECONCILED, f"{result.failed} of {result.evaluated} failed"
        )
        phase = SuitePhase.FAILED
    desired = [
        true(ConditionType.READY, Reason.RECONCILED, f"{len(spec.expectations)} expectations accepted"),
        quality,
    ]
    return before.model_copy(
        update={
            "observed_generation": generation,
            "phase": phase,
            "conditions": merge_conditions(before.conditions, desired, generation=generation, now=now),
            "expectation_count": len(spec.expectations),
        }
    )
