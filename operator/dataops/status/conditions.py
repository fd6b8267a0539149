"""Condition bookkeeping following the Kubernetes API conventions. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dataops.api.v1alpha1.common import Condition, ConditionStatus, ConditionType, Reason


@dataclass(frozen=True)
class DesiredCondition:
    type: ConditionType
    status: ConditionStatus
    reason: Reason
    message: str = ""


def merge_conditions(
    previous: list[Condition], desired: list[DesiredCondition], *, generation: int | None, now: datetime
) -> list[Condition]:
    """New conditions in the order of ``desired``; lastTransitionTime moves only when status changes."""
    old = {c.type: c for c in previous}
    merged = []
    for want in desired:
        before = old.get(want.type)
        changed = before is None or before.status != want.status
        since = (
            now
            if changed or before is None or before.last_transition_time is None
            else before.last_transition_time
        )
        merged.append(
            Condition(
                type=want.type,
                status=want.status,
                reason=want.reason,
                message=want.message,
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return merged


def find(conditions: list[Condition], type_: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def true(type_: ConditionType, reason: Reason, message: str = "") -> DesiredCondition:
    return DesiredCondition(type_, ConditionStatus.TRUE, reason, message)


def false(type_: ConditionType, reason: Reason, message: str = "") -> DesiredCondition:
    return DesiredCondition(type_, ConditionStatus.FALSE, reason, message)


def unknown(type_: ConditionType, reason: Reason, message: str = "") -> DesiredCondition:
    return DesiredCondition(type_, ConditionStatus.UNKNOWN, reason, message)
