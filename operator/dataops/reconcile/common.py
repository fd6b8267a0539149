"""What every reconcile shares: time, status writes, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from dataops.api.v1alpha1.common import Condition
from dataops.kube import events
from dataops.kube.client import KubeClient, ResourceType
from dataops.status.diff import merge_patch
from dataops.status.events import transition_events
from dataops.status.tolerant import read_status

StatusT = TypeVar("StatusT", bound=BaseModel)


class StatusWithConditions(Protocol):
    conditions: list[Condition]

    def model_dump(self, *, by_alias: bool, exclude_none: bool, mode: str) -> dict[str, Any]: ...


def utcnow() -> datetime:
    """Kubernetes timestamps have second precision."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Outcome:
    """What one reconcile did."""

    status_written: bool = False
    children_written: int = 0
    events: list[str] = field(default_factory=list)
    launched: list[str] = field(default_factory=list)
    requeue_after: float | None = None
    resource_version: str | None = None  # of our own status write: its watch event needs no reconcile
    written: dict[str, Any] | None = None  # the object as our last status write left it


def parse_status(model: type[StatusT], body: dict[str, Any]) -> StatusT | None:
    """The stored status, or None when absent. Tolerant: fields another operator version wrote are
    ignored and a value that no longer validates is dropped alone (active runs survive upgrades)."""
    return read_status(model, body.get("status"))


def write_status(
    client: KubeClient,
    rt: ResourceType,
    body: dict[str, Any],
    *,
    current: StatusWithConditions,
    conditions_before: list[Condition],
    now: datetime,
    outcome: Outcome,
) -> None:
    """One status write, only when something changed; Events for condition transitions."""
    old = body.get("status") or {}
    new = current.model_dump(by_alias=True, exclude_none=True, mode="json")
    patch = merge_patch(old, new)
    if not patch:
        return
    meta = body["metadata"]
    # Conditional on the version the decision was made from: a concurrent writer (a second replica
    # during a lease hand-over, a user) makes this fail with 409 and the reconcile runs again.
    written = client.patch_status(
        rt, meta["namespace"], meta["name"], patch, resource_version=meta.get("resourceVersion")
    )
    outcome.status_written = True
    outcome.written = written
    outcome.resource_version = written.get("metadata", {}).get("resourceVersion")
    # A later write in the same reconcile builds on this one: it is conditional on our own version.
    meta["resourceVersion"] = outcome.resource_version
    specs = transition_events(conditions_before, current.conditions)
    events.record(client, body, specs, now=now)
    outcome.events.extend(f"{s.type}/{s.reason}" for s in specs)
