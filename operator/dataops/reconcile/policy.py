"""reconcile() for DataPolicy: have the API server enforce it, and evaluate every pipeline it selects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from dataops.api.v1alpha1 import GROUP
from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.datapolicy import AccessRule, DataPolicySpec, DataPolicyStatus
from dataops.kube import admission
from dataops.kube.apply import ensure
from dataops.kube.client import DATA_PIPELINE, DATA_POLICY, RESOURCE_TYPES, ROLE, ROLE_BINDING, KubeClient
from dataops.plan.children import MANAGED_BY
from dataops.policy.access import POLICY_LABEL, desired_access, stale_access
from dataops.policy.admission import compile_admission
from dataops.policy.evaluate import pipeline_violations
from dataops.policy.selectors import selector_matches, selector_query
from dataops.reconcile.common import Outcome, parse_status, utcnow, write_status
from dataops.status.conditions import DesiredCondition
from dataops.status.policy import admission_condition, policy_status

FINALIZER = f"{GROUP}/admission-policy"
"""Held until the policy's cluster-scoped admission objects are deleted."""


def _set_finalizers(client: KubeClient, meta: dict[str, Any], finalizers: list[str]) -> None:
    """Replace the list (a merge patch replaces lists), guarded by the resourceVersion we read."""
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
    meta.update(client.patch(DATA_POLICY, meta["namespace"], meta["name"], patch)["metadata"])


def _enforce(
    client: KubeClient, body: dict[str, Any], spec: DataPolicySpec, outcome: Outcome
) -> DesiredCondition:
    """The admission objects in place (or removed when the policy has no rule for them)."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    objects = compile_admission(namespace, name, spec, labels={"app.kubernetes.io/managed-by": MANAGED_BY})
    if objects is None:
        outcome.children_written += admission.remove(client, namespace, name)
        return admission_condition(name=None, enforcement=spec.enforcement)
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER not in finalizers:
        _set_finalizers(client, meta, [*finalizers, FINALIZER])
    state = admission.converge(client, objects)
    outcome.children_written += state.written
    return admission_condition(
        name=objects.policy["metadata"]["name"],
        enforcement=spec.enforcement,
        error=state.error,
        type_warnings=state.type_warnings,
    )


def _finalize(client: KubeClient, body: dict[str, Any], outcome: Outcome) -> None:
    meta = body["metadata"]
    outcome.children_written += admission.remove(client, meta["namespace"], meta["name"])
    _set_finalizers(client, meta, [f for f in meta.get("finalizers") or [] if f != FINALIZER])


def suite_names(pipeline: dict[str, Any]) -> set[str]:
    """The suites a pipeline's quality gates reference (read from the raw object: an invalid spec
    still names them)."""
    gates = (pipeline.get("spec") or {}).get("qualityGates") or []
    return {ref["name"] for g in gates if isinstance(ref := g.get("suiteRef"), dict) and ref.get("name")}


def reconcile_access(
    client: KubeClient,
    *,
    policy: str,
    namespace: str,
    uid: str,
    access: AccessRule | None,
    pipelines: Iterable[str],
    suites: Iterable[str],
    outcome: Outcome,
) -> None:
    """Converge the policy's access Roles and RoleBindings; delete those no longer wanted."""
    desired = desired_access(
        policy=policy, namespace=namespace, uid=uid, access=access, pipelines=pipelines, suites=suites
    )
    for manifest in desired:
        outcome.children_written += ensure(client, manifest)
    selector = f"{POLICY_LABEL}={policy}"
    live = [
        *client.list(ROLE_BINDING, namespace, label_selector=selector),
        *client.list(ROLE, namespace, label_selector=selector),
    ]
    for kind, name in stale_access(live, desired, uid):
        client.delete(RESOURCE_TYPES[kind], namespace, name)
        outcome.children_written += 1


def reconcile_policy(client: KubeClient, body: dict[str, Any]) -> Outcome:
    outcome = Outcome()
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        if FINALIZER in (meta.get("finalizers") or []):
            _finalize(client, body, outcome)
        return outcome
    try:
        spec = DataPolicySpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return outcome
    enforced = _enforce(client, body, spec, outcome)
    findings: dict[str, list[str]] = {}
    suites: set[str] = set()
    # The API server filters (a tenth of the bytes for a policy selecting a tenth); we check again.
    query = selector_query(spec.pipeline_selector)
    for pipeline in client.list(DATA_PIPELINE, meta["namespace"], label_selector=query or None):
        if not selector_matches(spec.pipeline_selector, pipeline["metadata"].get("labels") or {}):
            continue
        suites.update(suite_names(pipeline))
        try:
            pipeline_spec = DataPipelineSpec.model_validate(pipeline.get("spec") or {})
        except ValidationError:
            findings[pipeline["metadata"]["name"]] = ["spec does not validate"]
            continue
        findings[pipeline["metadata"]["name"]] = pipeline_violations(spec, pipeline_spec)
    reconcile_access(
        client,
        policy=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        access=spec.access,
        pipelines=findings,
        suites=suites,
        outcome=outcome,
    )
    previous = parse_status(DataPolicyStatus, body)
    now = utcnow()
    status = policy_status(previous, findings, generation=meta.get("generation"), now=now, admission=enforced)
    write_status(
        client,
        DATA_POLICY,
        body,
        current=status,
        conditions_before=previous.conditions if previous else [],
        now=now,
        outcome=outcome,
    )
    return outcome
