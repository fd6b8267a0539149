"""DataPolicy status from the findings over the pipelines it selects. Pure."""

from __future__ import annotations

from datetime import datetime

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapolicy import DataPolicyStatus, Enforcement, PipelineViolations, PolicyPhase
from dataops.status.conditions import DesiredCondition, false, merge_conditions, true


def policy_status(
    previous: DataPolicyStatus | None,
    findings: dict[str, list[str]],
    *,
    generation: int | None,
    now: datetime,
    admission: DesiredCondition | None = None,
) -> DataPolicyStatus:
    """``findings`` maps each selected pipeline's name to its violations; ``admission`` says whether the
    API server enforces the policy itself."""
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
    if admission is not None:
        desired.append(admission)
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


def admission_condition(
    *,
    name: str | None,
    enforcement: Enforcement,
    error: str | None = None,
    type_warnings: list[str] | None = None,
) -> DesiredCondition:
    """AdmissionPolicyReady: the ValidatingAdmissionPolicy ``name`` and its binding are in place
    (``name`` None: the policy has no rule the API server checks), or why not."""
    kind = ConditionType.ADMISSION_POLICY_READY
    if error:
        return false(kind, Reason.APPLY_FAILED, error[:4096])
    if name is None:
        return true(
            kind, Reason.NO_ADMISSION_RULES, "no allowedSinks, retention or requiredQualityGates to check"
        )
    if type_warnings:
        return false(
            kind,
            Reason.ADMISSION_TYPE_CHECK_FAILED,
            f"ValidatingAdmissionPolicy {name}: " + "; ".join(type_warnings)[:4000],
        )
    if enforcement == Enforcement.ENFORCE:
        return true(
            kind, Reason.ADMISSION_ENFORCED, f"ValidatingAdmissionPolicy {name} refuses violating pipelines"
        )
    return true(
        kind,
        Reason.ADMISSION_AUDITED,
        f"ValidatingAdmissionPolicy {name} warns about violating pipelines and records them in the audit log",
    )
