"""The admission objects compiled from DataPolicies, on the API server: converge, delete, collect orphans.

ValidatingAdmissionPolicies and their bindings are cluster scoped, so a namespaced DataPolicy cannot own
them: they carry the policy's namespace and name as labels, the policy carries a finalizer under our
API group until they are deleted, and orphans (a policy removed while its finalizer was forced away)
are collected by :func:`collect_orphans`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dataops.kube.apply import is_subset
from dataops.kube.client import (
    DATA_POLICY,
    VALIDATING_ADMISSION_POLICY,
    VALIDATING_ADMISSION_POLICY_BINDING,
    KubeClient,
    KubeError,
)
from dataops.policy.admission import (
    COMPONENT,
    POLICY_NAME_LABEL,
    POLICY_NAMESPACE_LABEL,
    AdmissionObjects,
    admission_name,
)

MANAGED_SELECTOR = f"app.kubernetes.io/component={COMPONENT}"


@dataclass
class AdmissionState:
    """What converging found: writes made, the API server's refusal, type-checking warnings."""

    written: int = 0
    error: str | None = None
    type_warnings: list[str] = field(default_factory=list)


def _converge(client: KubeClient, manifest: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    rt = (
        VALIDATING_ADMISSION_POLICY
        if manifest["kind"] == "ValidatingAdmissionPolicy"
        else (VALIDATING_ADMISSION_POLICY_BINDING)
    )
    live = client.get(rt, None, manifest["metadata"]["name"])
    if live is not None and is_subset(manifest, live):
        return live, False
    return client.apply(manifest), True


def _type_warnings(live: dict[str, Any]) -> list[str]:
    """Warnings of the API server's type check of the expressions against the CRD schema, once it ran
    for this generation."""
    status = live.get("status") or {}
    if status.get("observedGeneration") != live["metadata"].get("generation"):
        return []
    warnings = (status.get("typeChecking") or {}).get("expressionWarnings") or []
    return [f"{w.get('fieldRef')}: {w.get('warning')}" for w in warnings]


def converge(client: KubeClient, objects: AdmissionObjects) -> AdmissionState:
    """Apply the policy, then its binding, each only when the live object differs. A refusal of the API
    server (an invalid selector, missing permissions) is reported, not raised."""
    state = AdmissionState()
    try:
        live, wrote = _converge(client, objects.policy)
        state.written += wrote
        state.type_warnings = _type_warnings(live)
        _, wrote = _converge(client, objects.binding)
        state.written += wrote
    except KubeError as exc:
        if not exc.refused:
            raise
        state.error = f"the API server refused the admission policy: {exc}"
    return state


def remove(client: KubeClient, namespace: str, name: str) -> int:
    """Delete the binding and the policy of DataPolicy ``namespace/name``; returns the deletions made."""
    object_name = admission_name(namespace, name)
    deleted = 0
    for rt in (VALIDATING_ADMISSION_POLICY_BINDING, VALIDATING_ADMISSION_POLICY):
        if client.get(rt, None, object_name) is not None:
            deleted += client.delete(rt, None, object_name)
    return deleted


def collect_orphans(client: KubeClient, *, watches: Callable[[str], bool]) -> int:
    """Delete admission objects whose DataPolicy no longer exists (in the namespaces ``watches``).
    Each deletion is conditional on the version listed, so an object re-applied meanwhile stays."""
    deleted = 0
    for rt in (VALIDATING_ADMISSION_POLICY_BINDING, VALIDATING_ADMISSION_POLICY):
        for item in client.list(rt, label_selector=MANAGED_SELECTOR):
            meta = item["metadata"]
            labels = meta.get("labels") or {}
            namespace, name = labels.get(POLICY_NAMESPACE_LABEL), labels.get(POLICY_NAME_LABEL)
            if not namespace or not name or not watches(namespace):
                continue
            if client.get(DATA_POLICY, namespace, name) is not None:
                continue
            try:
                deleted += client.delete(
                    rt,
                    None,
                    meta["name"],
                    preconditions={"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
                )
            except KubeError as exc:
                if not exc.conflict:
                    raise
    return deleted
