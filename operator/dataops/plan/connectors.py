"""Kafka Connect connectors a pipeline declares, and what to do about their state. Pure.

Secret values are merged into the desired config at the last moment by the caller and never
reach status, events or logs: everything this module returns for display names keys only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dataops.api.v1alpha1.datapipeline import ConnectorSource, ConnectorStatus, DataPipelineSpec, TaskStatus
from dataops.status.events import EventSpec

RESTART_ANNOTATION = "dataops.dev/restart-connectors"
HEALTHY_AFTER = timedelta(minutes=2)  # running this long after a restart resets the restart count


def connector_name(namespace: str, pipeline: str, source: str) -> str:
    return f"{namespace}.{pipeline}.{source}"


def declared_connectors(spec: DataPipelineSpec) -> list[tuple[str, ConnectorSource]]:
    return [(s.name, s.connector) for s in spec.sources if s.connector is not None]


# Connect creates the topics a source connector writes with the broker's defaults unless told otherwise.
TOPIC_CREATION_DEFAULTS = {
    "topic.creation.default.replication.factor": "-1",
    "topic.creation.default.partitions": "-1",
}


def desired_config(source: ConnectorSource, secret_values: dict[str, str]) -> dict[str, str]:
    return {
        **TOPIC_CREATION_DEFAULTS,
        **source.config,
        **secret_values,
        "connector.class": source.connector_class,
        "tasks.max": str(source.tasks_max),
    }


def stored_config(config: dict[str, str]) -> dict[str, str]:
    """A config as Connect returns it, minus the ``name`` key Connect adds (it is the connector's
    name, which the PUT path sets): what to compare with :func:`desired_config`."""
    return {k: v for k, v in config.items() if k != "name"}


@dataclass(frozen=True)
class ObservedConnector:
    config: dict[str, str]
    state: str  # RUNNING, PAUSED, FAILED, UNASSIGNED, RESTARTING
    tasks: list[TaskStatus] = field(default_factory=list)
    trace: str | None = None


@dataclass
class ConnectorActions:
    put_config: bool = False
    pause: bool = False
    resume: bool = False
    restart: bool = False
    status: ConnectorStatus | None = None
    events: list[EventSpec] = field(default_factory=list)
    wake_at: list[datetime] = field(default_factory=list)


def restart_backoff(source: ConnectorSource, restarts: int) -> timedelta:
    policy = source.restart
    return timedelta(seconds=min(policy.backoff_seconds * 2**restarts, policy.max_backoff_seconds))


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:300] if text and text.strip() else ""


def plan_connector(
    *,
    name: str,
    source_name: str,
    source: ConnectorSource,
    desired: dict[str, str],
    observed: ObservedConnector | None,
    previous: ConnectorStatus | None,
    restart_requested: bool,
    now: datetime,
) -> ConnectorActions:
    actions = ConnectorActions()
    restarts = previous.restarts if previous else 0
    last_restart = previous.last_restart_time if previous else None
    if observed is None:
        actions.put_config = True
        actions.pause = source.paused
        actions.status = ConnectorStatus(name=name, source=source_name, state="CREATING", restarts=restarts)
        actions.events.append(EventSpec("Normal", "ConnectorCreated", f"connector {name} created"))
        actions.wake_at.append(now + timedelta(seconds=5))
        return actions
    current = stored_config(observed.config)
    if current != desired:
        actions.put_config = True
        changed = sorted(k for k in set(desired) | set(current) if desired.get(k) != current.get(k))
        actions.events.append(
            EventSpec(
                "Normal", "ConnectorUpdated", f"connector {name} config changed: {', '.join(changed)}"[:1024]
            )
        )
    if source.paused and observed.state not in ("PAUSED", "FAILED"):
        actions.pause = True
        actions.events.append(EventSpec("Normal", "ConnectorPaused", f"connector {name} paused"))
    elif not source.paused and observed.state == "PAUSED":
        actions.resume = True
        actions.events.append(EventSpec("Normal", "ConnectorResumed", f"connector {name} resumed"))
    failed_tasks = [t for t in observed.tasks if t.state == "FAILED"]
    failed = observed.state == "FAILED" or bool(failed_tasks)
    message = ""
    if failed:
        what = (
            "connector"
            if observed.state == "FAILED"
            else f"task(s) {', '.join(str(t.id) for t in failed_tasks)}"
        )
        trace = _first_line(observed.trace) or next(
            (_first_line(t.trace) for t in failed_tasks if t.trace), ""
        )
        message = f"{what} failed: {trace}" if trace else f"{what} failed"
        due = last_restart is None or now >= last_restart + restart_backoff(source, max(restarts - 1, 0))
        if restart_requested:
            actions.restart, restarts, last_restart = True, restarts + 1, now
            actions.events.append(
                EventSpec("Normal", "ConnectorRestarted", f"connector {name} restarted on request")
            )
        elif restarts >= source.restart.max_restarts:
            message += (
                f"; gave up after {restarts} automatic restarts (annotate {RESTART_ANNOTATION} to retry)"
            )
        elif due:
            actions.restart, restarts, last_restart = True, restarts + 1, now
            actions.events.append(
                EventSpec(
                    "Warning", "ConnectorRestarted", f"connector {name} restart {restarts}: {message}"[:1024]
                )
            )
        if not actions.restart and restarts < source.restart.max_restarts and last_restart is not None:
            actions.wake_at.append(last_restart + restart_backoff(source, max(restarts - 1, 0)))
        actions.wake_at.append(now + timedelta(seconds=10))
    elif restart_requested:
        actions.restart, restarts, last_restart = True, restarts + 1, now
        actions.events.append(
            EventSpec("Normal", "ConnectorRestarted", f"connector {name} restarted on request")
        )
    elif (
        restarts
        and last_restart is not None
        and now - last_restart >= HEALTHY_AFTER
        and observed.state == "RUNNING"
    ):
        restarts = 0
    if observed.state in ("UNASSIGNED", "RESTARTING") or any(t.state != "RUNNING" for t in observed.tasks):
        actions.wake_at.append(now + timedelta(seconds=10))
    actions.status = ConnectorStatus(
        name=name,
        source=source_name,
        state=observed.state,
        tasks=[t.model_copy(update={"trace": _first_line(t.trace) or None}) for t in observed.tasks],
        restarts=restarts,
        last_restart_time=last_restart,
        message=message,
    )
    return actions
