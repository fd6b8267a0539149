"""Standalone validations of a DataQualitySuite: the plan, the pod, and when to run. Pure.

A suite with a dataset runs on its cron schedule or when ``dataops.dev/run-now`` changes. Each
run is one validation pod (``runtime-images/validator``); the pod reports its ValidationResult
as its termination message, which the operator records in the suite's status. Run ids are
deterministic and the active run is recorded in status before its pod exists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from dataops.api.v1alpha1.datapolicy import PiiColumn
from dataops.api.v1alpha1.dataqualitysuite import (
    ActiveValidation,
    DataQualitySuiteSpec,
    DataQualitySuiteStatus,
    DatasetMetrics,
    ValidationResult,
)
from dataops.api.v1alpha1.meta import parse_time
from dataops.plan.children import COMPONENT_LABEL, MANAGED_BY, RUN_ID_LABEL, Owner
from dataops.plan.pods import (
    WORKING_DIR,
    api_server_env,
    claim_mounts,
    claim_volumes,
    container_security_context,
    container_termination,
    cpu_request,
    pod_security_context,
    tmp_mount,
    tmp_volume,
    writable_dirs_env,
)
from dataops.plan.scheduling import RUN_NOW_ANNOTATION, latest_due, next_due, run_id_for
from dataops.plan.spark_driver import pod_memory_mib
from dataops.quality.summarize import error_result
from dataops.status.events import EventSpec

SUITE_LABEL = "dataops.dev/suite"
VALIDATOR_COMPONENT = "validator"
PLAN_DIR = "/etc/dataops/validation"
DEFAULT_VALIDATOR_IMAGE = "ghcr.io/dataops-operator/validator:0.1.0"
ACTIVE_POLL = timedelta(seconds=30)


class ValidationPlan(BaseModel):
    """What the validator needs: the suite and the metrics of recent runs (newest first)."""

    format_version: int = 1
    suite: str
    namespace: str
    spec: dict[str, Any]
    history: list[dict[str, Any]]
    # piiColumns of the namespace's DataPolicies: the values of the columns they classify stay out
    # of results, reports, status and lineage (a suite is not selected by policies, so all count)
    pii_columns: list[dict[str, Any]] = []

    def suite_spec(self) -> DataQualitySuiteSpec:
        return DataQualitySuiteSpec.model_validate(self.spec)

    def classified(self) -> list[PiiColumn]:
        return [PiiColumn.model_validate(c) for c in self.pii_columns]

    def history_metrics(self) -> list[DatasetMetrics]:
        return [DatasetMetrics.model_validate(h) for h in self.history]


def build_validation_plan(
    *,
    name: str,
    namespace: str,
    spec: DataQualitySuiteSpec,
    status: DataQualitySuiteStatus | None,
    pii_columns: Sequence[PiiColumn] = (),
) -> ValidationPlan:
    history: list[DatasetMetrics] = []
    if status is not None:
        last = status.last_result
        for entry in status.history:
            metrics = entry.metrics
            if last is not None and entry.run_id == last.run_id and last.metrics is not None:
                metrics = last.metrics  # the full entry, with the column list for schema drift
            if metrics is not None and entry.error is None:
                history.append(metrics)
    return ValidationPlan(
        suite=name,
        namespace=namespace,
        spec=spec.to_json(),
        history=[m.to_json() for m in history],
        pii_columns=[c.to_json() for c in pii_columns],
    )


def validation_labels(suite: str, run_id: str | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": "dataops-validator",
        "app.kubernetes.io/instance": suite,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        COMPONENT_LABEL: VALIDATOR_COMPONENT,
        SUITE_LABEL: suite,
    }
    if run_id:
        labels[RUN_ID_LABEL] = run_id
    return labels


def plan_config_map_name(suite: str) -> str:
    return f"{suite}-validation"


def validator_pod_name(suite: str, run_id: str) -> str:
    return f"{suite}-{run_id}-validator"


def build_plan_config_map(owner: Owner, plan: ValidationPlan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": plan_config_map_name(owner.name),
            "namespace": owner.namespace,
            "labels": validation_labels(owner.name),
            "ownerReferences": [owner.reference()],
        },
        "data": {"plan.json": json.dumps(plan.model_dump(mode="json"), sort_keys=True)},
    }


def build_validator_pod(
    owner: Owner,
    active: ActiveValidation,
    spec: DataQualitySuiteSpec,
    *,
    image: str,
    lineage_transport: str,
    api_server_url: str | None = None,
) -> dict[str, Any]:
    """The pod of one validation run; restricted like every pod the operator launches."""
    validator = spec.validator
    memory = f"{pod_memory_mib(validator.resources)}Mi"
    meta: dict[str, Any] = {
        "name": active.pod,
        "namespace": owner.namespace,
        "labels": validation_labels(owner.name, active.run_id),
        "ownerReferences": [owner.reference()],
    }
    if validator.pod_annotations:
        meta["annotations"] = dict(validator.pod_annotations)
    container = {
        "name": "validator",
        "workingDir": WORKING_DIR,
        "image": validator.image or image,
        "imagePullPolicy": validator.image_pull_policy,
        "args": ["python3", "-m", "dataops.runtime.validator"],
        "env": [
            {"name": "DATAOPS_VALIDATION_PLAN", "value": f"{PLAN_DIR}/plan.json"},
            {"name": "DATAOPS_RUN_ID", "value": active.run_id},
            {"name": "DATAOPS_LINEAGE_TRANSPORT", "value": lineage_transport},
            {"name": "DATAOPS_SPARK_MASTER", "value": f"local[{validator.resources.cores}]"},
            {"name": "DATAOPS_DRIVER_MEMORY", "value": validator.resources.memory},
            *writable_dirs_env(),
            *api_server_env(api_server_url),
        ],
        "resources": {
            "requests": {"cpu": cpu_request(validator.resources), "memory": memory},
            "limits": {"memory": memory},
        },
        "volumeMounts": [
            {"name": "plan", "mountPath": PLAN_DIR, "readOnly": True},
            tmp_mount(),
            *claim_mounts(validator.volumes),
        ],
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": [
            {"name": "plan", "configMap": {"name": plan_config_map_name(owner.name)}},
            tmp_volume(),
            *claim_volumes(validator.volumes),
        ],
        "activeDeadlineSeconds": validator.timeout_seconds,
    }
    if validator.service_account_name:
        pod_spec["serviceAccountName"] = validator.service_account_name
    if validator.node_selector:
        pod_spec["nodeSelector"] = dict(validator.node_selector)
    if validator.tolerations:
        pod_spec["tolerations"] = [t.to_json() for t in validator.tolerations]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}


@dataclass(frozen=True)
class ValidatorState:
    """What the cluster says about a validation pod."""

    name: str
    run_id: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    message: str = ""
    finish_time: datetime | None = None
    deleted: bool = False


def validator_state_from_pod(pod: dict[str, Any]) -> ValidatorState | None:
    meta = pod.get("metadata") or {}
    run_id = (meta.get("labels") or {}).get(RUN_ID_LABEL)
    if not run_id:
        return None
    status = pod.get("status") or {}
    termination = container_termination(status)
    message = termination.message if termination else ""
    finished = parse_time(termination.finished) if termination else None
    phase = str(status.get("phase") or "Pending")
    if phase == "Failed" and not message:
        message = str(status.get("message") or status.get("reason") or "the validation pod failed")
    return ValidatorState(
        name=str(meta.get("name")),
        run_id=str(run_id),
        phase=phase,
        message=message.strip(),
        finish_time=finished,
        deleted=bool(meta.get("deletionTimestamp")),
    )


@dataclass
class ValidationDecision:
    active: ActiveValidation | None
    last_schedule_time: datetime | None
    last_run_now: str | None
    recorded: ValidationResult | None = None
    launch: ActiveValidation | None = None
    delete_pods: list[str] = field(default_factory=list)
    events: list[EventSpec] = field(default_factory=list)
    wake_at: list[datetime] = field(default_factory=list)

    def requeue_after(self, now: datetime) -> float | None:
        future = [(t - now).total_seconds() for t in self.wake_at]
        return max(0.5, min(future)) if future else None


def result_from_pod(state: ValidatorState, active: ActiveValidation, now: datetime) -> ValidationResult:
    """The pod's ValidationResult; a crashed pod or an unreadable message gives an error result."""
    when = state.finish_time or now
    try:
        result = ValidationResult.model_validate(json.loads(state.message))
    except (ValueError, ValidationError):
        if state.phase == "Succeeded":
            return error_result(
                run_id=active.run_id, time=when, error="unreadable result: " + state.message[:200]
            )
        return error_result(
            run_id=active.run_id, time=when, error=state.message or "the validation pod failed"
        )
    if result.run_id != active.run_id:
        return error_result(run_id=active.run_id, time=when, error=f"result of another run ({result.run_id})")
    return result


def _finish(
    d: ValidationDecision, active: ActiveValidation, state: ValidatorState | None, now: datetime, timeout: int
) -> None:
    if state is None or state.deleted:
        d.recorded = error_result(
            run_id=active.run_id, time=now, error=f"the validation pod {active.pod} disappeared"
        )
    elif state.phase in ("Succeeded", "Failed"):
        d.recorded = result_from_pod(state, active, now)
    elif now - active.start_time >= timedelta(seconds=timeout):
        d.recorded = error_result(run_id=active.run_id, time=now, error=f"timed out after {timeout}s")
        d.delete_pods.append(active.pod)
    else:
        d.wake_at += [now + ACTIVE_POLL, active.start_time + timedelta(seconds=timeout)]
        return
    d.active = None
    if d.recorded.error:
        d.events.append(
            EventSpec("Warning", "ValidationError", f"run {active.run_id}: {d.recorded.error}"[:1024])
        )


def refuse_validation(d: ValidationDecision, message: str, now: datetime) -> ValidationDecision:
    """The decision after the API server refused the launched run's pod or ConfigMap (PodSecurity,
    ResourceQuota, a webhook): the run ended at once, with the server's message as its error result.
    Its status is built on the status ``d`` led to (which recorded the launch)."""
    active = d.launch
    assert active is not None
    return replace(
        d,
        active=None,
        launch=None,
        recorded=error_result(run_id=active.run_id, time=now, error=message),
        delete_pods=[],
        events=[*d.events, EventSpec("Warning", "ValidationError", f"run {active.run_id}: {message}"[:1024])],
    )


def decide_validation(
    *,
    name: str,
    uid: str,
    spec: DataQualitySuiteSpec,
    status: DataQualitySuiteStatus | None,
    pod: ValidatorState | None,
    annotations: dict[str, str],
    created: datetime,
    now: datetime,
) -> ValidationDecision:
    before = status or DataQualitySuiteStatus(conditions=[])
    d = ValidationDecision(
        active=before.active,
        last_schedule_time=before.last_schedule_time,
        last_run_now=before.last_run_now,
    )
    if d.active is not None:
        _finish(d, d.active, pod, now, spec.validator.timeout_seconds)
    if spec.dataset is None:
        return d
    trigger: tuple[str, str] | None = None  # (trigger, key of the run id)
    run_now = annotations.get(RUN_NOW_ANNOTATION)
    if run_now and run_now != before.last_run_now:
        d.last_run_now = run_now
        trigger = ("Manual", f"manual/{run_now}")
    schedule = spec.schedule
    if schedule is not None and schedule.cron and not spec.suspend:
        since = before.last_schedule_time or created
        due = latest_due(schedule.cron, schedule.time_zone, since, now)
        if due is not None:
            d.last_schedule_time = due
            trigger = trigger or ("Schedule", due.isoformat())
        d.wake_at.append(next_due(schedule.cron, schedule.time_zone, max(now, since)))
    if trigger is None:
        return d
    run_id = run_id_for("v", uid, trigger[1])
    already = any(h.run_id == run_id for h in before.history) or (d.active and d.active.run_id == run_id)
    if already:
        return d
    if d.active is not None:
        d.events.append(
            EventSpec("Normal", "ValidationSkipped", f"run {run_id} skipped: run {d.active.run_id} is active")
        )
        return d
    d.launch = d.active = ActiveValidation(
        run_id=run_id, pod=validator_pod_name(name, run_id), trigger=trigger[0], start_time=now
    )
    d.events.append(EventSpec("Normal", "ValidationStarted", f"run {run_id} ({trigger[0]}) started"))
    d.wake_at.append(now + ACTIVE_POLL)
    return d
