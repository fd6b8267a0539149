"""DataPolicy status from the findings over the pipelines it selects. Pure."""

from __future__ import annotations

from datetime import datetime

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapolicy import DataPolicyStatus, PipelineViolations, PolicyPhase
from dataops.status.conditions import false, merge_conditions, true


def policy_status(
    previous: DataPolicyStatus | None,
    findings: dict[str, list[str]],
    *,
    generation: int | None,
    now: datetime,
) -> DataPolicyStatus:
    """``findings`` maps each selected pipeline's name to its violations."""
    before = previous or DataPolicyStatus(conditions=[])
    violating = sorted(name for name, v in findings.items() if v)
    if violating:
        compliant = false(
            ConditionType.POLICY_COMPLIANT,
            Reason.POLICY_VIOLATION,
            f"{len(violating)} of {len(findings)} selected pipelines violate the policy: "
            + ", ".join(violating),
        )
    else:
        compliant = true(
            ConditionType.POLICY_COMPLIANT, Reason.COMPLIANT, f"{len(findings)} pipelines comply"
        )
    desired = [true(ConditionType.READY, Reason.RECONCILED, f"selects {len(findings)} pipelines"), compliant]
    return before.model_copy(
        update={
            "observed_generation": generation,
            "phase": PolicyPhase.VIOLATED if violating else PolicyPhase.ACTIVE,
            "conditions": merge_conditions(before.conditions, desired, generation=generation, now=now),
            "selected_pipelines": len(findings),
            "violating_pipelines": len(violating),
            "violations": [PipelineViolations(pipeline=n, messages=findings[n][:32]) for n in violating][
                :100
            ],
        }
    )
