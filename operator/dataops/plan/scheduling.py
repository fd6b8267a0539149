"""Run lifecycle decisions: triggers, concurrency, retries with backoff, timeouts. Pure.

Given the pipeline spec, the status recorded so far, the driver states observed on the cluster
and the time, decide which attempts to launch, which pods to delete, how the run records change
and when to look again. Run identities are deterministic, so a decision repeated after an
operator restart names the same runs and the same pods.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import BaseModel, ValidationError

from dataops.api.v1alpha1.datapipeline import (
    ConcurrencyPolicy,
    DataPipelineSpec,
    DataPipelineStatus,
    DatasetCount,
    MalformedRecords,
    MaskedColumns,
    MergeResult,
    ModelRun,
    PipelineMode,
    QuarantinedData,
    RetentionResult,
    RunOutcome,
    RunRecord,
    RunTrigger,
    UnclassifiedColumn,
)
from dataops.api.v1alpha1.meta import parse_time
from dataops.plan.pods import container_termination
from dataops.status.events import EventSpec

_Reported = TypeVar("_Reported", bound=BaseModel)

RUN_NOW_ANNOTATION = "dataops.dev/run-now"
QUALITY_GATE_PREFIX = "quality gate "  # how the runtime's QualityGateFailed messages start
PROGRESS_ANNOTATION = "dataops.dev/streaming-progress"  # written by a streaming driver on its own pod
HISTORY_LIMIT = 20
ACTIVE_POLL = timedelta(seconds=30)  # look again while runs are active, even without a watch event
ACTIVE_PHASES = {"Pending", "Running", "Unknown"}
STOP_POLL = timedelta(seconds=2)  # look again while a replaced streaming driver stops
MISSED_SLOTS_RECORDED = 5  # older missed schedule slots are counted in an Event, not recorded one by one


@dataclass(frozen=True)
class DriverState:
    """What the cluster says about one attempt's driver."""

    name: str
    run_id: str
    attempt: int
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    start_time: datetime | None = None
    finish_time: datetime | None = None
    message: str = ""
    progress: dict[str, Any] | None = None  # a streaming driver's last progress report
    terminating: bool = False  # deleted, its containers may still run
    conf_map: str | None = None
    """The attempt's own ConfigMap: only attempts launched by earlier operator builds have one."""

    @property
    def alive(self) -> bool:
        """Its containers may still be running (a replacement must wait for it)."""
        return self.terminating or self.phase in ACTIVE_PHASES

    @property
    def order(self) -> datetime:
        return self.finish_time or self.start_time or datetime.min.replace(tzinfo=UTC)


@dataclass
class RunDecision:
    active: list[RunRecord] = field(default_factory=list)
    finished: list[RunRecord] = field(default_factory=list)
    launch: list[RunRecord] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    retire: list[DriverState] = field(default_factory=list)  # finished attempts beyond the kept limits
    events: list[EventSpec] = field(default_factory=list)
    wake_at: list[datetime] = field(default_factory=list)
    last_schedule_time: datetime | None = None
    last_manual_trigger: str | None = None
    run_sequence: int = 0

    def requeue_after(self, now: datetime) -> float | None:
        future = [(t - now).total_seconds() for t in self.wake_at]
        return max(0.5, min(future)) if future else None


def run_id_for(prefix: str, uid: str, key: str) -> str:
    return prefix + hashlib.sha256(f"{uid}/{key}".encode()).hexdigest()[:8]


def driver_pod_name(pipeline: str, run_id: str, attempt: int) -> str:
    return f"{pipeline}-{run_id}-{attempt}-driver"


def backoff_seconds(spec: DataPipelineSpec, failed_attempt: int) -> int:
    retry = spec.retry
    return int(min(retry.backoff_seconds * 2 ** (failed_attempt - 1), retry.max_backoff_seconds))


def latest_due(cron: str, tz: str, since: datetime, now: datetime) -> datetime | None:
    """The newest schedule slot in (since, now], or None."""
    zone = ZoneInfo(tz)
    it = croniter(cron, now.astimezone(zone))
    previous: datetime = it.get_prev(datetime)
    return previous if previous > since else None


def slots_between(cron: str, tz: str, since: datetime, until: datetime, limit: int = 1000) -> list[datetime]:
    """Schedule slots in (since, until), oldest first, at most ``limit`` (the newest ones)."""
    zone = ZoneInfo(tz)
    it = croniter(cron, until.astimezone(zone))
    found: list[datetime] = []
    while len(found) < limit:
        slot: datetime = it.get_prev(datetime)
        if slot <= since:
            break
        found.append(slot)
    return found[::-1]


def next_due(cron: str, tz: str, after: datetime) -> datetime:
    zone = ZoneInfo(tz)
    upcoming: datetime = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return upcoming


def _rows(message: str) -> tuple[list[DatasetCount], list[DatasetCount]]:
    """The driver writes its run summary (JSON) as the termination message on success."""
    summary = _summary(message)

    def counts(key: str) -> list[DatasetCount]:
        values = summary.get(key) or {}
        return [DatasetCount(name=k, rows=int(v)) for k, v in values.items() if isinstance(v, int)][:64]

    return counts("rowsRead"), counts("rowsWritten")


def _summary(message: str) -> dict[str, Any]:
    try:
        summary = json.loads(message)
    except ValueError:
        return {}
    return summary if isinstance(summary, dict) else {}


def _masked(message: str) -> list[MaskedColumns]:
    """Which sink columns the run masked: ``{sink: {column: why}}``, or ``{sink: [columns]}`` when the
    driver had to shorten its termination message."""
    found: list[MaskedColumns] = []
    for sink, columns in (_summary(message).get("masked") or {}).items():
        with contextlib.suppress(ValidationError, TypeError, AttributeError):
            if isinstance(columns, dict):
                names = sorted(columns)
                reasons = [str(columns[n])[:512] for n in names]
            else:
                names, reasons = sorted(str(c) for c in columns), []
            found.append(MaskedColumns(sink=str(sink), columns=names[:128], reasons=reasons[:128]))
    return found[:16]


def _by_name(message: str, key: str, model: type[_Reported], name_field: str) -> list[_Reported]:
    """``{name: {field: value}}`` of the driver's summary as records; what does not parse is left out."""
    found: list[_Reported] = []
    for name, done in (_summary(message).get(key) or {}).items():
        with contextlib.suppress(ValidationError, TypeError, AttributeError):
            found.append(model.model_validate({name_field: name, **done}))
    return found[:64]


def _merged(message: str) -> list[MergeResult]:
    """What each merge sink inserted and updated: ``{sink: {inserted, updated, superseded, tableRows}}``."""
    return _by_name(message, "merged", MergeResult, "sink")


def _malformed(message: str) -> list[MalformedRecords]:
    """Records of csv/json sources that did not parse: ``{source: {policy, rows, quarantine}}``."""
    return _by_name(message, "malformed", MalformedRecords, "source")


def _quarantined(message: str) -> list[QuarantinedData]:
    """Earlier runs' quarantine the run found still within its retention."""
    found: list[QuarantinedData] = []
    for kept in _summary(message).get("quarantined") or []:
        with contextlib.suppress(ValidationError, TypeError):
            found.append(QuarantinedData.model_validate(kept))
    return found[:64]


def _governance(message: str) -> tuple[list[RetentionResult], list[UnclassifiedColumn]]:
    """What retention removed and which written columns look like unclassified personal data."""
    summary = _summary(message)
    retention: list[RetentionResult] = []
    for sink, done in (summary.get("retention") or {}).items():
        with contextlib.suppress(ValidationError, TypeError, AttributeError):
            retention.append(
                RetentionResult(
                    sink=sink,
                    rows_deleted=done.get("rowsDeleted"),
                    partitions_dropped=done.get("partitionsDropped"),
                    error=done.get("error"),
                )
            )
    unclassified: list[UnclassifiedColumn] = []
    for found in summary.get("unclassifiedPii") or []:
        with contextlib.suppress(ValidationError, TypeError):
            unclassified.append(UnclassifiedColumn.model_validate(found))
    return retention[:16], unclassified[:32]


def _models(message: str) -> list[ModelRun]:
    """The model versions and held-out metrics the driver reports (``models`` of its summary)."""
    found: list[ModelRun] = []
    for step, done in (_summary(message).get("models") or {}).items():
        with contextlib.suppress(ValidationError, TypeError, AttributeError, ValueError):
            metrics = {str(k): float(v) for k, v in (done.get("metrics") or {}).items() if v is not None}
            found.append(
                ModelRun(
                    step=str(step),
                    version=done.get("version"),
                    location=done.get("location"),
                    metrics=metrics,
                )
            )
    return found[:16]


class _Decider:
    def __init__(self, *, name: str, spec: DataPipelineSpec, now: datetime) -> None:
        self.name = name
        self.spec = spec
        self.now = now
        self.d = RunDecision()

    def event(self, kind: str, reason: str, message: str) -> None:
        self.d.events.append(EventSpec(kind, reason, message[:1024]))

    def fail_attempt(self, rec: RunRecord, message: str) -> None:
        # A failed quality gate fails the same way on a retry: the run fails (and the pipeline is
        # Degraded) at once, with the failed expectations and the quarantine in the message.
        retryable = not message.startswith(QUALITY_GATE_PREFIX)
        if retryable and rec.attempt <= self.spec.retry.max_retries:
            delay = backoff_seconds(self.spec, rec.attempt)
            retry = rec.model_copy(
                update={
                    "attempt": rec.attempt + 1,
                    "outcome": RunOutcome.RETRYING,
                    "not_before": self.now + timedelta(seconds=delay),
                    "driver_pod": None,
                    "start_time": None,
                    "message": f"attempt {rec.attempt} failed: {message}"[:4096],
                }
            )
            self.d.active.append(retry)
            self.d.wake_at.append(retry.not_before or self.now)
            self.event(
                "Warning",
                "RunAttemptFailed",
                f"run {rec.id} attempt {rec.attempt} failed: {message}; retry in {delay}s",
            )
        else:
            done = rec.model_copy(
                update={
                    "outcome": RunOutcome.FAILED,
                    "completion_time": self.now,
                    "message": message[:4096],
                    "not_before": None,
                }
            )
            self.d.finished.append(done)
            self.event(
                "Warning", "RunFailed", f"run {rec.id} failed after {rec.attempt} attempt(s): {message}"
            )

    def follow(self, rec: RunRecord, driver: DriverState | None) -> None:
        """Advance one active run from what its driver shows."""
        if rec.outcome in (RunOutcome.PENDING, RunOutcome.RETRYING) and driver is None:
            if rec.not_before is not None and self.now < rec.not_before:
                self.d.active.append(rec)
                self.d.wake_at.append(rec.not_before)
                return
            if rec.outcome == RunOutcome.PENDING and rec.start_time is not None:
                self.relaunch(rec)
                return
            self.start(rec)
            return
        if driver is None:
            self.fail_attempt(rec, "the driver pod disappeared")
            return
        if driver.phase in ACTIVE_PHASES:
            started = rec.start_time or driver.start_time or self.now
            # A driver still waiting to be scheduled or started leaves the run Pending (no status write).
            waiting = driver.phase != "Running" and rec.outcome == RunOutcome.PENDING
            rec = rec.model_copy(
                update={
                    "outcome": RunOutcome.PENDING if waiting else RunOutcome.RUNNING,
                    "start_time": started,
                    "driver_pod": driver.name,
                    "not_before": None,
                }
            )
            timeout = self.spec.timeout_seconds
            if timeout is not None and started + timedelta(seconds=timeout) <= self.now:
                self.d.delete.append(driver.name)
                self.event(
                    "Warning", "RunTimedOut", f"run {rec.id} attempt {rec.attempt} exceeded {timeout}s"
                )
                self.fail_attempt(rec, f"timed out after {timeout}s")
                return
            self.d.active.append(rec)
            if timeout is not None:
                self.d.wake_at.append(started + timedelta(seconds=timeout))
            return
        if driver.phase == "Succeeded":
            read, written = _rows(driver.message)
            retention, unclassified = _governance(driver.message)
            done = rec.model_copy(
                update={
                    "outcome": RunOutcome.SUCCEEDED,
                    "start_time": rec.start_time or driver.start_time,
                    "completion_time": driver.finish_time or self.now,
                    "rows_read": read,
                    "rows_written": written,
                    "retention": retention,
                    "masked": _masked(driver.message),
                    "merged": _merged(driver.message),
                    "malformed": _malformed(driver.message),
                    "quarantined": _quarantined(driver.message),
                    "models": _models(driver.message),
                    "unclassified_pii": unclassified,
                    "message": "",
                    "driver_pod": driver.name,
                }
            )
            self.d.finished.append(done)
            self.event("Normal", "RunSucceeded", f"run {rec.id} succeeded on attempt {rec.attempt}")
            if unclassified:
                columns = ", ".join(f"{u.sink}.{u.column} ({u.classification})" for u in unclassified)
                self.event(
                    "Warning",
                    "UnclassifiedPersonalData",
                    f"run {rec.id} wrote columns that look like personal data but no DataPolicy "
                    f"classifies: {columns}",
                )
            return
        self.fail_attempt(
            rec.model_copy(update={"driver_pod": driver.name}), driver.message or "the driver failed"
        )

    def start(self, rec: RunRecord) -> None:
        """Launch an attempt; its clock (timeouts) starts now, recorded before the driver exists."""
        rec = rec.model_copy(
            update={
                "outcome": RunOutcome.PENDING,
                "start_time": self.now,
                "not_before": None,
                "driver_pod": driver_pod_name(self.name, rec.id, rec.attempt),
            }
        )
        self.d.active.append(rec)
        self.d.launch.append(rec)
        self.event("Normal", "RunStarted", f"run {rec.id} attempt {rec.attempt} ({rec.trigger.value})")

    def relaunch(self, rec: RunRecord) -> None:
        """The attempt was launched (its clock runs since then) but its driver never appeared: the launch
        failed part way (the API server or the network broke off) or the pod went away before anyone
        saw it. Launch it again on the same clock, so that the timeout still ends the attempt."""
        timeout = self.spec.timeout_seconds
        started = rec.start_time or self.now
        if timeout is not None and started + timedelta(seconds=timeout) <= self.now:
            self.event("Warning", "RunTimedOut", f"run {rec.id} attempt {rec.attempt} exceeded {timeout}s")
            self.fail_attempt(rec, f"timed out after {timeout}s: the driver pod never appeared")
            return
        self.d.active.append(rec)
        self.d.launch.append(rec)
        self.event(
            "Warning",
            "DriverMissing",
            f"run {rec.id} attempt {rec.attempt}: no driver pod, launching it again",
        )
        if timeout is not None:
            self.d.wake_at.append(started + timedelta(seconds=timeout))

    def refuse(self, rec: RunRecord, message: str) -> None:
        """The API server refused the attempt's objects: the attempt failed, retried per spec.retry."""
        self.d.launch.remove(rec)
        self.d.active.remove(rec)
        self.fail_attempt(rec, message)

    def cancel(self, rec: RunRecord, message: str) -> None:
        if rec in self.d.launch:
            self.d.launch.remove(rec)
        elif rec.driver_pod:
            self.d.delete.append(rec.driver_pod)
        self.d.active.remove(rec)
        self.d.finished.append(
            rec.model_copy(
                update={"outcome": RunOutcome.CANCELLED, "completion_time": self.now, "message": message}
            )
        )
        self.event("Normal", "RunCancelled", f"run {rec.id} {message}")

    def next_run_id(self, prefix: str, uid: str, key: str) -> str:
        """A run id never used before: the trigger's key and the pipeline's run sequence. The same
        decision repeated (the status write was lost) names the same run, so a launch stays idempotent."""
        run_id = run_id_for(prefix, uid, f"{key}/{self.d.run_sequence}")
        self.d.run_sequence += 1
        return run_id

    def continuous(
        self, uid: str, key: str, previous: DataPipelineStatus, can_start: bool, drivers: list[DriverState]
    ) -> None:
        """A Streaming pipeline keeps exactly one run of its current plan going (retried with backoff;
        after the retries are exhausted, or when the job ends by itself, it stays down until the plan
        changes or run-now is set). A suspended or replaced job is stopped first: the next one starts
        once no other driver of the pipeline is alive, so two drivers never share the checkpoint."""
        for rec in [a for a in self.d.active if a.plan_key != key or self.spec.suspend]:
            self.cancel(rec, "suspended" if self.spec.suspend else "replaced: the plan changed")
        if self.spec.suspend or not can_start or self.d.active:
            return
        finished = [*previous.history, *self.d.finished]
        last = next((r for r in reversed(finished) if r.trigger == RunTrigger.CONTINUOUS), None)
        if last is not None and last.plan_key == key and last.outcome != RunOutcome.CANCELLED:
            return  # this plan's job failed for good or ended: wait for a change or run-now
        if any(driver.alive for driver in drivers):
            self.event("Normal", "WaitingForDriver", "the previous streaming driver is still stopping")
            self.d.wake_at.append(self.now + STOP_POLL)
            return
        self.start(
            RunRecord(
                id=self.next_run_id("c", uid, key),
                trigger=RunTrigger.CONTINUOUS,
                outcome=RunOutcome.PENDING,
                plan_key=key,
            )
        )

    def skip(self, rec: RunRecord, why: str, reason: str = "RunSkipped") -> None:
        """A trigger that starts no run is recorded as a Skipped run: every trigger has an outcome."""
        slot = f" (slot {rec.scheduled_time.isoformat()})" if rec.scheduled_time else ""
        self.d.finished.append(
            rec.model_copy(
                update={"outcome": RunOutcome.SKIPPED, "completion_time": self.now, "message": why[:4096]}
            )
        )
        self.event(
            "Normal" if reason == "RunSkipped" else "Warning", reason, f"run {rec.id}{slot} skipped: {why}"
        )

    def trigger(self, rec: RunRecord) -> None:
        """A new run wants to start: apply the concurrency policy."""
        if any(a.id == rec.id for a in self.d.active) or any(f.id == rec.id for f in self.d.finished):
            return
        if self.d.active:
            policy = self.spec.schedule.concurrency_policy if self.spec.schedule else ConcurrencyPolicy.FORBID
            if policy == ConcurrencyPolicy.FORBID:
                self.skip(rec, f"run {self.d.active[-1].id} is still active")
                return
            if policy == ConcurrencyPolicy.REPLACE:
                for old in self.d.active:
                    if old.driver_pod and old in self.d.launch:
                        self.d.launch.remove(old)
                    elif old.driver_pod:
                        self.d.delete.append(old.driver_pod)
                    self.d.finished.append(
                        old.model_copy(
                            update={
                                "outcome": RunOutcome.CANCELLED,
                                "completion_time": self.now,
                                "message": f"replaced by run {rec.id}",
                            }
                        )
                    )
                    self.event("Normal", "RunCancelled", f"run {old.id} replaced by run {rec.id}")
                self.d.active = []
        self.start(rec)


def decide(
    *,
    name: str,
    uid: str,
    spec: DataPipelineSpec,
    status: DataPipelineStatus | None,
    drivers: dict[tuple[str, int], DriverState],
    annotations: dict[str, str],
    created: datetime,
    now: datetime,
    can_start: bool,
    continuous_key: str = "",
) -> RunDecision:
    """``continuous_key`` identifies what a Streaming pipeline's job runs (the plan's digest): when it
    changes, the running job is replaced by one with the new plan, resuming from the checkpoint."""
    decider = _Decider(name=name, spec=spec, now=now)
    d = decider.d
    previous = status or DataPipelineStatus(conditions=[])
    d.last_schedule_time = previous.last_schedule_time
    d.last_manual_trigger = previous.last_manual_trigger
    d.run_sequence = previous.run_sequence
    token = annotations.get(RUN_NOW_ANNOTATION)
    if token and token != previous.last_manual_trigger and spec.mode == PipelineMode.STREAMING:
        d.last_manual_trigger = token  # run-now restarts the streaming job (from its checkpoint)
    key = f"{continuous_key}/{d.last_manual_trigger or ''}"
    for rec in previous.active_runs:
        if rec.trigger == RunTrigger.CONTINUOUS and rec.plan_key is None:
            # recorded before plan keys existed: its id was derived from its key alone
            legacy = rec.id == run_id_for("c", uid, key)
            rec = rec.model_copy(update={"plan_key": key if legacy else ""})
        decider.follow(rec, drivers.get((rec.id, rec.attempt)))
    if previous.active_runs:
        d.wake_at.append(now + ACTIVE_POLL)

    if spec.mode == PipelineMode.STREAMING:
        decider.continuous(uid, key, previous, can_start, list(drivers.values()))
        retire_finished(d, spec, previous, drivers)
        return d
    if token and token != previous.last_manual_trigger and can_start:
        d.last_manual_trigger = token
        decider.trigger(
            RunRecord(
                id=decider.next_run_id("m", uid, token), trigger=RunTrigger.MANUAL, outcome=RunOutcome.PENDING
            )
        )
    schedule = spec.schedule
    if schedule is not None and schedule.cron and not spec.suspend:
        since = previous.last_schedule_time or created
        due = latest_due(schedule.cron, schedule.time_zone, since, now)
        if due is not None and can_start:
            d.last_schedule_time = due

            def slot_run(slot: datetime) -> RunRecord:
                return RunRecord(
                    id=run_id_for("s", uid, slot.isoformat()),
                    trigger=RunTrigger.SCHEDULE,
                    outcome=RunOutcome.PENDING,
                    scheduled_time=slot,
                )

            # Like a CronJob, only the newest due slot runs; older ones missed while nothing
            # reconciled (the operator was down) are recorded as skipped, the newest few by name.
            missed = slots_between(schedule.cron, schedule.time_zone, since, due)
            for slot in missed[-MISSED_SLOTS_RECORDED:]:
                decider.skip(
                    slot_run(slot), "missed: a newer slot was due before this one started", "ScheduleMissed"
                )
            if len(missed) > MISSED_SLOTS_RECORDED:
                decider.event(
                    "Warning",
                    "ScheduleMissed",
                    f"{len(missed)} schedule slots missed between {since.isoformat()} and {due.isoformat()}",
                )
            deadline = schedule.starting_deadline_seconds
            if deadline is not None and (now - due).total_seconds() > deadline:
                decider.skip(
                    slot_run(due),
                    f"missed by more than startingDeadlineSeconds ({deadline}s)",
                    "ScheduleMissed",
                )
            else:
                decider.trigger(slot_run(due))
        d.wake_at.append(next_due(schedule.cron, schedule.time_zone, max(now, since)))
    retire_finished(d, spec, previous, drivers)
    return d


def retire_finished(
    d: RunDecision,
    spec: DataPipelineSpec,
    previous: DataPipelineStatus,
    drivers: dict[tuple[str, int], DriverState],
) -> None:
    """Finished attempts beyond spec.finishedDrivers go, newest kept. An attempt whose outcome this
    decision records is kept until that is in status (the write may fail and be decided again)."""
    recording = {(r.id, r.attempt) for r in [*previous.active_runs, *d.active]}
    finished = sorted(
        (s for key, s in drivers.items() if key not in recording and not s.alive and s.name not in d.delete),
        key=lambda s: s.order,
        reverse=True,
    )
    limits = spec.finished_drivers
    for phase, keep in (("Succeeded", limits.succeeded), ("Failed", limits.failed)):
        d.retire.extend([s for s in finished if s.phase == phase][keep:])


def refuse_launch(
    decision: RunDecision, rec: RunRecord, message: str, *, name: str, spec: DataPipelineSpec, now: datetime
) -> None:
    """Amend ``decision`` after the API server refused to create the objects of the launch ``rec``
    (PodSecurity, ResourceQuota, a webhook, invalid): that attempt failed with the server's message,
    and is retried with backoff or fails the run, as spec.retry says. Without this a refused driver
    would be launched again on every reconcile and never time out."""
    decider = _Decider(name=name, spec=spec, now=now)
    decider.d = decision
    decider.refuse(rec, message)


def _run_identity(obj: dict[str, object]) -> tuple[dict[str, Any], str, int] | None:
    """(metadata, run id, attempt) from the run labels; None when the object is not a run attempt."""
    meta = obj.get("metadata") or {}
    assert isinstance(meta, dict)
    labels = meta.get("labels") or {}
    run_id, attempt = labels.get("dataops.dev/run-id"), labels.get("dataops.dev/attempt")
    if not run_id or not attempt:
        return None
    return meta, str(run_id), int(attempt)


def driver_state_from_pod(pod: dict[str, object]) -> DriverState | None:
    """Parse a driver pod; None when it is not one of ours."""
    identity = _run_identity(pod)
    if identity is None:
        return None
    meta, run_id, attempt = identity
    status = pod.get("status") or {}
    assert isinstance(status, dict)
    phase = str(status.get("phase") or "Pending")
    started = status.get("startTime")
    termination = container_termination(status)
    message = termination.message if termination else ""
    finished = termination.finished if termination else None
    if phase == "Failed" and not message:
        message = str(status.get("message") or status.get("reason") or "")
    terminating = bool(meta.get("deletionTimestamp"))
    if terminating and phase in ACTIVE_PHASES:
        phase = "Failed"
        message = message or "the driver pod was deleted"
    progress: dict[str, Any] | None = None
    with contextlib.suppress(ValueError, TypeError):
        parsed = json.loads((meta.get("annotations") or {}).get(PROGRESS_ANNOTATION) or "null")
        progress = parsed if isinstance(parsed, dict) else None
    return DriverState(
        name=str(meta.get("name")),
        run_id=run_id,
        attempt=attempt,
        phase=phase,
        start_time=parse_time(started),
        finish_time=parse_time(finished),
        message=message.strip()[:4096],
        progress=progress,
        terminating=terminating,
        conf_map=_own_conf_map(pod),
    )


def _own_conf_map(pod: dict[str, object]) -> str | None:
    """The per-attempt spark.properties ConfigMap older operators mounted into the driver."""
    spec = pod.get("spec") or {}
    assert isinstance(spec, dict)
    for volume in spec.get("volumes") or []:
        if volume.get("name") == "spark-conf-volume-driver":
            return str((volume.get("configMap") or {}).get("name") or "") or None
    return None


_APP_STATES = {
    "": "Pending",
    "NEW": "Pending",
    "SUBMITTED": "Pending",
    "PENDING_RERUN": "Pending",
    "RUNNING": "Running",
    "SUCCEEDING": "Running",
    "FAILING": "Running",
    "INVALIDATING": "Running",
    "COMPLETED": "Succeeded",
    "FAILED": "Failed",
    "SUBMISSION_FAILED": "Failed",
    "UNKNOWN": "Unknown",
}


def driver_state_from_spark_application(app: dict[str, object]) -> DriverState | None:
    """Parse a Kubeflow SparkApplication (the SparkOperator backend)."""
    identity = _run_identity(app)
    if identity is None:
        return None
    meta, run_id, attempt = identity
    status = app.get("status") or {}
    assert isinstance(status, dict)
    state = status.get("applicationState") or {}
    phase = _APP_STATES.get(str(state.get("state") or ""), "Unknown")
    return DriverState(
        name=str(meta.get("name")),
        run_id=run_id,
        attempt=attempt,
        phase=phase,
        start_time=parse_time(status.get("lastSubmissionAttemptTime")),
        finish_time=parse_time(status.get("terminationTime")),
        message=str(state.get("errorMessage") or "")[:4096],
    )
