"""Which Kubernetes Events a status change deserves. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from dataops.api.v1alpha1.common import Condition, ConditionStatus, ConditionType, Reason

# Conditions whose False (or, for Degraded, True) status is bad news.
_INVERTED = {ConditionType.DEGRADED, ConditionType.PROGRESSING}
# Run events (RunStarted, RunSucceeded, ...) already tell these transitions; Ready carries
# Configured's reason and message when the configuration is what is wrong.
_SILENT = {ConditionType.PROGRESSING, ConditionType.CONFIGURED}
# Ready=False for these reasons repeats what the Degraded and Fresh events already say.
_TOLD_ELSEWHERE = {(ConditionType.READY, Reason.LAST_RUN_FAILED), (ConditionType.READY, Reason.DATA_STALE)}


@dataclass(frozen=True)
class EventSpec:
    type: str  # Normal or Warning
    reason: str
    message: str


def transition_events(previous: list[Condition], current: list[Condition]) -> list[EventSpec]:
    """One event per condition whose status or reason changed (not for message-only changes)."""
    old = {c.type: c for c in previous}
    events = []
    for cond in current:
        if cond.type in _SILENT or (cond.type, cond.reason) in _TOLD_ELSEWHERE:
            continue
        before = old.get(cond.type)
        if before is not None and before.status == cond.status and before.reason == cond.reason:
            continue
        if before is None and cond.status == ConditionStatus.UNKNOWN:
            continue
        healthy = (cond.status == ConditionStatus.TRUE) != (cond.type in _INVERTED)
        if before is None and healthy and cond.type != ConditionType.READY:
            continue
        kind = "Normal" if healthy or cond.type == ConditionType.PROGRESSING else "Warning"
        text = f"{cond.type.value}={cond.status.value}"
        if cond.message:
            text += f": {cond.message}"
        events.append(EventSpec(kind, cond.reason.value, text[:1024]))
    return events
