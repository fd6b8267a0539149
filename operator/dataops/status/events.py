"""Which Kubernetes Events a status change deserves. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from dataops.api.v1alpha1.common import Condition, ConditionStatus, ConditionType

# Conditions whose False (or, for Degraded, True) status is bad news.
_INVERTED = {ConditionType.DEGRADED, ConditionType.PROGRESSING}
# Run events (RunStarted, RunSucceeded, ...) already tell these transitions.
_SILENT = {ConditionType.PROGRESSING}


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
        if cond.type in _SILENT:
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
