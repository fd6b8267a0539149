"""reconcile() for DataQualitySuite: status, and standalone validation runs in pods."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from dataops.api.v1alpha1.datapolicy import PiiColumn
from dataops.api.v1alpha1.dataqualitysuite import (
    DataQualitySuiteSpec,
    DataQualitySuiteStatus,
    ValidationResult,
)
from dataops.api.v1alpha1.meta import parse_time
from dataops.kube import events
from dataops.kube.client import DATA_POLICY, DATA_QUALITY_SUITE, POD, KubeClient, KubeError
from dataops.metrics import QUALITY_FAILED_EXPECTATIONS, QUALITY_VALIDATION_SECONDS, QUALITY_VALIDATIONS
from dataops.plan.children import Owner
from dataops.plan.validation import (
    SUITE_LABEL,
    ValidationDecision,
    ValidatorState,
    build_plan_config_map,
    build_validation_plan,
    build_validator_pod,
    decide_validation,
    refuse_validation,
    validator_pod_name,
    validator_state_from_pod,
)
from dataops.policy.deputy import suite_forbidden
from dataops.reconcile.common import Outcome, parse_status, utcnow, write_status
from dataops.reconcile.config import DEFAULT_RUN_CONFIG, RunConfig
from dataops.status.suite import suite_status


def _observe(
    client: KubeClient, namespace: str, status: DataQualitySuiteStatus | None
) -> ValidatorState | None:
    if status is None or status.active is None:
        return None
    pod = client.get(POD, namespace, status.active.pod)
    return validator_state_from_pod(pod) if pod is not None else None


def namespace_pii_columns(client: KubeClient, namespace: str) -> list[PiiColumn]:
    """The piiColumns of every DataPolicy of the namespace (a suite is not selected by policies: a
    column classified anywhere in the namespace keeps its values out of the suite's results). Entries
    of a policy whose spec does not validate count too, each one that parses on its own."""
    found: list[PiiColumn] = []
    for body in client.list(DATA_POLICY, namespace):
        for entry in (body.get("spec") or {}).get("piiColumns") or []:
            with contextlib.suppress(ValidationError):
                found.append(PiiColumn.model_validate(entry))
    return found


def _count(result: ValidationResult) -> None:
    outcome = "error" if result.error else ("passed" if result.success else "failed")
    QUALITY_VALIDATIONS.labels(outcome).inc()
    for failed in result.failed_expectations:
        QUALITY_FAILED_EXPECTATIONS.labels(failed.severity.value).inc()
    if result.duration_seconds is not None:
        QUALITY_VALIDATION_SECONDS.observe(result.duration_seconds)


def _launch(
    client: KubeClient,
    owner: Owner,
    spec: DataQualitySuiteSpec,
    status: DataQualitySuiteStatus,
    decision: ValidationDecision,
    config: RunConfig,
) -> tuple[int, str | None]:
    """Create the run's ConfigMap and pod: (objects written, the API server's refusal or None). A
    refusal (:attr:`KubeError.refused`) ends the run instead of failing the reconcile again and again."""
    assert decision.launch is not None
    plan = build_validation_plan(
        name=owner.name,
        namespace=owner.namespace,
        spec=spec,
        status=status,
        pii_columns=namespace_pii_columns(client, owner.namespace),
    )
    objects = [
        ("validation ConfigMap", build_plan_config_map(owner, plan)),
        (
            "validation pod",
            build_validator_pod(
                owner,
                decision.launch,
                spec,
                image=config.validator_image,
                lineage_transport=config.lineage_transport,
                api_server_url=config.api_server_url,
            ),
        ),
    ]
    for written, (what, manifest) in enumerate(objects):
        try:
            client.apply(manifest)
        except KubeError as exc:
            if not exc.refused:
                raise
            return written, f"{what} rejected: {exc.message or exc}"
    return len(objects), None


def _delete_finished_pods(client: KubeClient, namespace: str, suite: str, keep: set[str]) -> None:
    """Keep the pod of the last result (for its logs) and the active one; delete older ones."""
    for pod in client.list(POD, namespace, label_selector=f"{SUITE_LABEL}={suite}"):
        name = pod["metadata"]["name"]
        if name not in keep and not pod["metadata"].get("deletionTimestamp"):
            client.delete(POD, namespace, name)


def reconcile_suite(
    client: KubeClient,
    body: dict[str, Any],
    *,
    config: RunConfig = DEFAULT_RUN_CONFIG,
    now: datetime | None = None,
) -> Outcome:
    outcome = Outcome()
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return outcome
    try:
        spec = DataQualitySuiteSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return outcome  # the CRD schema admits nothing invalid; an old object waits for an edit
    namespace, name = meta["namespace"], meta["name"]
    now = now or utcnow()
    previous = parse_status(DataQualitySuiteStatus, body)
    decision = decide_validation(
        name=name,
        uid=meta["uid"],
        spec=spec,
        status=previous,
        pod=_observe(client, namespace, previous),
        annotations=meta.get("annotations") or {},
        created=parse_time(meta.get("creationTimestamp")) or now,
        now=now,
    )
    status = suite_status(previous, spec, generation=meta.get("generation"), now=now, runs=decision)
    # The active run is recorded before its pod exists: a restart neither loses nor repeats it.
    write_status(
        client,
        DATA_QUALITY_SUITE,
        body,
        current=status,
        conditions_before=previous.conditions if previous else [],
        now=now,
        outcome=outcome,
    )
    if decision.recorded is not None:
        _count(decision.recorded)
    owner = Owner(kind="DataQualitySuite", name=name, namespace=namespace, uid=meta["uid"])
    for pod in decision.delete_pods:
        client.delete(POD, namespace, pod)
    forbidden = suite_forbidden(spec, namespace, config.allowlists()) if decision.launch else []
    if decision.launch is not None:
        refusal: str | None
        if forbidden:  # nothing is launched; the run ends with the operator's refusal
            written, refusal = 0, "; ".join(str(f) for f in forbidden)[:1024]
        else:
            written, refusal = _launch(client, owner, spec, status, decision, config)
        outcome.children_written += written
        if refusal is None:
            outcome.launched.append(decision.launch.pod)
        else:  # the run ended with the server's message: the one case with a second status write
            decision = refuse_validation(decision, refusal, now)
            assert decision.recorded is not None
            _count(decision.recorded)
            refused = suite_status(status, spec, generation=meta.get("generation"), now=now, runs=decision)
            write_status(
                client,
                DATA_QUALITY_SUITE,
                {**body, "status": status.model_dump(by_alias=True, exclude_none=True, mode="json")},
                current=refused,
                conditions_before=status.conditions,
                now=now,
                outcome=outcome,
            )
            status = refused
    if decision.recorded is not None or decision.launch is not None:
        keep = {decision.launch.pod} if decision.launch else set()
        if status.last_result is not None:
            keep.add(validator_pod_name(name, status.last_result.run_id))
        _delete_finished_pods(client, namespace, name, keep)
    if decision.events:
        events.record(client, body, decision.events, now=now)
        outcome.events.extend(f"{e.type}/{e.reason}" for e in decision.events)
    outcome.requeue_after = decision.requeue_after(now)
    return outcome
